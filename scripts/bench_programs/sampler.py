"""Runs in the container: one JSON line per interval with the RSS and CPU time of the hub, the proxy,
each user's server and kernels ([rss bytes, CPU s, processes]), the container's memory (cgroup)
and the machine's busy CPU seconds (/proc/stat is not namespaced). Stops at its
deadline, at EOF on stdin, or when nobody reads its output.

Run by scripts/bench.py inside a container, read from this file."""
import json, os, select, sys, time
interval, deadline = float(sys.argv[1]), time.time() + float(sys.argv[2])
TICK, PAGE, SELF = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE"), os.getpid()
names = {}

def user_name(uid):
    if uid not in names:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.split(":")
                if len(fields) > 2:
                    names[int(fields[2])] = fields[0]
    return names.get(uid, str(uid))

def kind(args):
    # A forked server or kernel shows its command as one string (setproctitle): split it again.
    args = " ".join(args).split()
    base = [os.path.basename(a) for a in args[:3]]
    if "jupyterhub-singleuser" in base:
        return "server"
    if "ipykernel_launcher" in args[:4]:
        return "kernel"
    if "jupyterhub" in base:
        return "hub"
    if any("configurable-http-proxy" in a for a in args[:3]):
        return "proxy"
    return "other"

def busy_cpu():
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK  # all but idle and iowait

def cgroup_memory():
    for path in ("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes"):
        try:
            with open(path) as f:
                return int(f.read())
        except OSError:
            pass
    return None

def sample():
    out = {"t": time.time(), "busy_cpu": busy_cpu(), "cgroup_mem": cgroup_memory(),
           "hub": [0, 0.0], "proxy": [0, 0.0], "other": [0, 0.0], "servers": {}, "kernels": {}}
    seen = set()
    # Oldest first: a process forked by the hub (or a server) still shows its parent's command
    # line until it execs; only the oldest hub, and each user's oldest server, are counted.
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        if pid == SELF:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1]) * PAGE
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        cpu = (int(rest[11]) + int(rest[12])) / TICK
        what = kind(args)
        owner = user_name(uid) if what in ("server", "kernel") else None
        if (what, owner) in seen and what in ("hub", "server"):
            continue
        seen.add((what, owner))
        if owner:
            slot = out[what + "s"].setdefault(owner, [0, 0.0, 0])
            slot[0] += rss; slot[1] += cpu; slot[2] += 1
        else:
            out[what][0] += rss; out[what][1] += cpu
    return out

while True:
    try:
        print(json.dumps(sample()), flush=True)
    except BrokenPipeError:
        break
    if time.time() >= deadline:
        break
    ready, _, _ = select.select([0], [], [], interval)
    if ready and not os.read(0, 1024):
        break
