"""Runs in a throwaway container of the image (root, no network): writes a generated accounts.csv,
times `hubsetup accounts sync` cold, as a no-op and with changed rows, and times the per-user
useradd + chpasswd approach on samples, with few and with many users already in /etc/passwd.
Progress goes to stderr; the last stdout line is the JSON result.

Run by scripts/bench.py inside a container, read from this file."""
import json, os, random, resource, shutil, string, subprocess, sys, time
cfg = json.loads(sys.argv[1])
ROWS, SAMPLE, EVERY, CHANGED, REPEAT = cfg["rows"], cfg["sample"], cfg["teacher_every"], cfg["changed"], cfg["repeat"]
BASE, ETC = "/tmp/bench", ["passwd", "group", "shadow", "gshadow"]
ENV = dict(os.environ, ACCOUNTS_FILE=BASE + "/accounts.csv", HUB_STATE_DIR=BASE + "/state",
           NBGRADER_COURSES=BASE + "/courses", NBGRADER_EXCHANGE=BASE + "/exchange")
PRISTINE = {name: open("/etc/" + name).read() for name in ETC}
SAMPLE_UID = 30000 + ROWS  # above every id the sync hands out (users and two groups per course)
rnd = random.Random(8)

def say(message):
    print(message, file=sys.stderr, flush=True)

def password():
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(12))

def reset():
    for name, text in PRISTINE.items():
        with open("/etc/" + name, "w") as f:
            f.write(text)
    for entry in os.listdir("/home"):
        shutil.rmtree(os.path.join("/home", entry))
    shutil.rmtree(BASE, ignore_errors=True)
    for sub in ("state", "courses", "exchange"):
        os.makedirs(os.path.join(BASE, sub))

def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

def timed(command, stdin=None):
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=ENV, input=stdin, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command} failed: {done.stdout[-500:]} {done.stderr[-1500:]}")
    return wall, children_cpu() - cpu, done.stdout

def make_rows():
    courses = max(1, ROWS // EVERY)
    return [[f"t{i:05d}", password(), "1", f"course{i // EVERY:03d}"] if i % EVERY == 0
            else [f"s{i:05d}", password(), "", f"course{i % courses:03d}"] for i in range(ROWS)]

def write_csv(rows):
    with open(ENV["ACCOUNTS_FILE"], "w") as f:
        f.write("login;password;teacher;courses\n")
        f.writelines(";".join(row) + "\n" for row in rows)

def passwd_users():
    with open("/etc/passwd") as f:
        return sum(1 for line in f if line.strip())

def sync(label):
    wall, cpu, out = timed(["hubsetup", "accounts", "sync"])
    say(f"  {label}: {wall:.2f} s wall, {cpu:.2f} CPU-s: {out.splitlines()[0][:120]}")
    return {"label": label, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "summary": out.splitlines()[0]}

def repeated(label, before_each):
    """REPEAT runs of a sync that can be repeated (the machine is shared): medians, and each run."""
    runs = []
    for rep in range(REPEAT):
        before_each(rep)
        runs.append(sync(label))
    middle = lambda key: sorted(run[key] for run in runs)[len(runs) // 2]
    return {"label": label, "wall_s": middle("wall_s"), "cpu_s": middle("cpu_s"),
            "wall_min_s": min(run["wall_s"] for run in runs), "runs": runs, "summary": runs[-1]["summary"]}

def change_passwords(rep):
    for i in range(rep, ROWS, max(1, ROWS // CHANGED))[:CHANGED]:
        rows[i][1] = password()
    write_csv(rows)

def seed_sample(prefix, first_uid):
    """What a simple sync does: useradd then chpasswd for every user, one process each."""
    existing, useradd, chpasswd = passwd_users(), [], []
    cpu = children_cpu()
    for k in range(SAMPLE):
        login = f"{prefix}{k:04d}"
        useradd.append(timed(["useradd", "--create-home", "--user-group", "--uid", str(first_uid + k),
                              "--shell", "/bin/bash", login])[0])
        chpasswd.append(timed(["chpasswd"], stdin=f"{login}:{password()}\n")[0])
    per_user = (sum(useradd) + sum(chpasswd)) / SAMPLE
    say(f"  useradd+chpasswd x{SAMPLE} with {existing} users in /etc/passwd: {per_user * 1000:.1f} ms per user")
    return {"existing_users": existing, "count": SAMPLE, "useradd_ms": round(sum(useradd) / SAMPLE * 1000, 2),
            "chpasswd_ms": round(sum(chpasswd) / SAMPLE * 1000, 2), "per_user_ms": round(per_user * 1000, 2),
            "cpu_per_user_ms": round((children_cpu() - cpu) / SAMPLE * 1000, 2)}

def extrapolate(low, high, start_users):
    """Per-user cost grows linearly with the users already there: c(n) = a + b*n, summed."""
    n_low = low["existing_users"] + SAMPLE / 2
    n_high = high["existing_users"] + SAMPLE / 2
    c_low, c_high = low["per_user_ms"] / 1000, high["per_user_ms"] / 1000
    slope = (c_high - c_low) / (n_high - n_low)
    base = c_low - slope * n_low
    total = ROWS * base + slope * (ROWS * start_users + ROWS * (ROWS - 1) / 2)
    return {"model": "per-user seconds = a + b * users in /etc/passwd", "a_s": round(base, 6),
            "b_s_per_user": round(slope, 9), "total_s": round(total, 1),
            "naive_constant_total_s": round(c_low * ROWS, 1)}

result = {"rows": ROWS, "sample": SAMPLE, "teacher_every": EVERY, "changed": CHANGED, "cores": os.cpu_count()}
reset()
wall, cpu, _ = timed(["hubsetup", "settings"])
result["startup"] = {"label": "start-up only (hubsetup settings)", "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
say(f"seed approach, {SAMPLE} users on an empty /etc/passwd")
result["seed_low"] = seed_sample("a", SAMPLE_UID)
reset()
rows = make_rows()
write_csv(rows)
say(f"hubsetup accounts sync, {ROWS} rows ({ROWS // EVERY} teachers), plaintext passwords")
result["cold"] = sync("cold")
result["noop"] = repeated("no-op re-sync", lambda rep: None)
result["changed_rows"] = repeated(f"{CHANGED} passwords changed", change_passwords)
say(f"seed approach, {SAMPLE} more users on top of the {ROWS} synced ones")
result["seed_high"] = seed_sample("z", SAMPLE_UID)
result["seed_extrapolated"] = extrapolate(result["seed_low"], result["seed_high"], len(PRISTINE["passwd"].splitlines()))
if cfg["prehashed"]:
    reset()
    from hubsetup import passwords
    say(f"hashing {ROWS} passwords for the pre-hashed run (not timed)")
    hashes = passwords.hash_many([row[1] for row in rows])
    write_csv([[row[0], h, *row[2:]] for row, h in zip(rows, hashes)])
    result["cold_prehashed"] = sync("cold, pre-hashed ($6$)")
if cfg["profile"]:
    reset()
    write_csv(rows)
    say("profiling a cold sync (cProfile, slower than the timed runs)")
    _, _, out = timed(["python3", "-m", "cProfile", "-s", "tottime", "/opt/venv/bin/hubsetup", "accounts", "sync"])
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), len(lines))
    result["cold_profile_top"] = lines[start:start + 26]
    say("\n".join(lines[start - 3:start + 26]))
print(json.dumps(result))
