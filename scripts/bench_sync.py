"""`hubsetup accounts sync` at scale in a throwaway container of the image, beside per-user
useradd + chpasswd."""

import json
import os
import secrets
import subprocess
import time



from bench_common import RESULTS, checkout, machine, program, timestamp, write_json


# Runs in a throwaway container of the image (root, no network): writes a generated accounts.csv,
# times `hubsetup accounts sync` cold, as a no-op and with changed rows, and times the per-user
# useradd + chpasswd approach on samples, with few and with many users already in /etc/passwd.
# Progress goes to stderr; the last stdout line is the JSON result.
SYNC_DRIVER = program("sync_driver.py")


def sync_command(args):
    out = args.out or os.path.join(RESULTS, f"sync-{args.rows}-{timestamp()}")
    os.makedirs(out, exist_ok=True)
    config = {"rows": args.rows, "sample": args.sample, "teacher_every": args.teacher_every,
              "changed": args.changed, "repeat": args.repeat, "prehashed": not args.no_prehashed, "profile": args.profile}
    command = ["docker", "run", "--rm", "-i", "--network", "none", "--name", f"hubbench-sync-{secrets.token_hex(3)}",
               "--entrypoint", "python3", args.image, "-", json.dumps(config)]
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    before = machine()
    done = subprocess.run(command, input=SYNC_DRIVER, stdout=subprocess.PIPE, text=True, timeout=args.max_seconds)
    if done.returncode != 0:
        raise SystemExit(f"the sync benchmark failed ({done.returncode})")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    result = {"scenario": "sync", "started_at": started_at, "image": args.image, "image_id": image_id(args.image),
              "checkout": checkout(), "machine": before,
              "loadavg_after": os.getloadavg(), **measured}
    write_json(os.path.join(out, "result.json"), result)
    print(sync_table(result))
    print(f"results: {out}/result.json")
    return 0


def image_id(image):
    return subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image], capture_output=True, text=True,
                          timeout=60).stdout.strip()


def sync_table(r):
    rows = [f"{'accounts.csv with ' + str(r['rows']) + ' rows (median of repeats)':52}{'wall s':>10}{'CPU s':>10}"]
    for key in ("startup", "cold", "cold_prehashed", "noop", "changed_rows"):
        if key in r:
            label = ("hubsetup " if key == "startup" else "accounts sync, ") + r[key]["label"]
            rows.append(f"{label:52}{r[key]['wall_s']:>10.2f}{r[key]['cpu_s']:>10.2f}")
    low, high, model = r["seed_low"], r["seed_high"], r["seed_extrapolated"]
    rows.append(f"{'seed approach (useradd + chpasswd per user)':52}{'ms/user':>10}{'CPU ms':>10}")
    for sample in (low, high):
        label = f"  {sample['count']} users with {sample['existing_users']} already in /etc/passwd"
        rows.append(f"{label:52}{sample['per_user_ms']:>10.1f}{sample['cpu_per_user_ms']:>10.1f}")
        rows.append(f"{'    of which useradd / chpasswd':52}{sample['useradd_ms']:>10.1f}{sample['chpasswd_ms']:>10.1f}")
    rows.append(f"{'  extrapolated to ' + str(r['rows']) + ' rows (cost grows with users)':52}{model['total_s']:>10.0f}")
    rows.append(f"{'  extrapolated at constant per-user cost':52}{model['naive_constant_total_s']:>10.0f}")
    return "\n".join(rows)


# --- a stack of the bench's own -------------------------------------------------------------------
