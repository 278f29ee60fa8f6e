"""Runs in the container: the proportional memory (PSS, kB) of each given login's processes,
summed, as JSON {login: [kB, processes]}. Root may not read another uid's smaps here (no
CAP_SYS_PTRACE), so a child per login reads them as that login.

Run by scripts/bench_storm.py inside the hub container, read from this file; logins in argv[1]."""
import json, os, pwd, sys
result = {}
for login in json.loads(sys.argv[1]):
    try:
        account = pwd.getpwnam(login)
    except KeyError:
        continue
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        os.setgroups([])
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
        total = processes = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid != account.pw_uid:
                    continue
                with open(f"/proc/{entry}/smaps_rollup") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
                processes += 1
            except (OSError, StopIteration):
                continue
        os.write(write_end, json.dumps([total, processes]).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        result[login] = json.loads(f.read() or "[0, 0]")
    os.wait()
print(json.dumps(result))
