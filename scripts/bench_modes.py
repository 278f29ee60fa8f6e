"""`scripts/bench modes`: what a user costs in each place servers can run (README: "Choosing
where servers run"): local processes, a container per user, Swarm services.

For each mode it starts a stack of its own (project hubbench<mode>, loopback ports from
18400), logs N students in one after the other and times each server start (spawn request to
JupyterLab's page), then measures memory once they sit idle: with only their server, then
with one idle kernel each (a student with a notebook open). Memory is the resident size of
the user's processes (host `ps` through `docker top`), and in container modes also the
container's own cgroup figure, which is what its limit counts.
"""

import json
import os
import re
import statistics
import time

import docker

from harness import kernels
from harness.stack import REPO, HubClient, Stack, SwarmHub, run

MODES = ("local", "docker", "swarm")
MB = 1024 * 1024
SETTLE_SECONDS = 15


def say(message):
    print(message, flush=True)


def site(mode, users, port):
    folder = os.path.join(REPO, "bench-results", f"modes-site-{mode}")
    os.makedirs(folder, exist_ok=True)
    accounts = os.path.join(folder, "accounts.csv")
    with open(accounts, "w") as f:
        f.writelines(f"bench{i:03d};bench{i:03d}pw;0\n" for i in range(users))
    with open(os.path.join(folder, "hub.env"), "w") as f:
        f.write("IDLE_TIMEOUT=0\n")  # nobody is culled while measuring
    overrides = [] if mode == "local" else ["docker-compose.docker.yml"]
    stack = (SwarmHub if mode == "swarm" else Stack)(f"hubbench{mode}", port, accounts)
    stack.files += overrides
    for name in ("HUB_IMAGE", "USER_IMAGE"):
        stack.env[name] = stack.env[name].replace(":test", ":latest")
    if "BASE_IMAGE" not in stack.env:
        stack.env["BASE_IMAGE"] = run(os.path.join(REPO, "scripts", "base-image")).stdout.strip()
    return stack


def bring_up(stack, mode):
    Stack.compose(stack, "build", timeout=1800)
    if mode == "swarm":
        if docker.from_env().info()["Swarm"]["LocalNodeState"] != "active":
            run("docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
        stack.remove()
        stack.deploy()
    else:
        stack.compose("down", "-v", check=False)
        stack.compose("up", "-d")
    stack.wait_healthy(timeout=300)


def take_down(stack, mode):
    if mode == "swarm":
        stack.remove()
        run("docker", "swarm", "leave", "--force")
        return
    stack.take_down()


def hub_container_id(stack, mode):
    if mode == "swarm":
        return stack.hub_container().id
    return stack.compose("ps", "-q", "hub").stdout.strip()


def user_container_ids(stack, login):
    return run("docker", "ps", "-q", "--filter", f"label=org.teaching-hub.user={login}",
               "--filter", f"name={stack.project}-user-").stdout.split()


def resident_mb(container_id, uid=None):
    """RSS of a container's processes (those of `uid` only, if given), from the host's ps."""
    rows = run("docker", "top", container_id, "-eo", "pid,uid,rss").stdout.splitlines()[1:]
    return sum(int(rss) for _, owner, rss in (row.split() for row in rows) if uid is None or int(owner) == uid) / 1024


def cgroup_mb(container_id):
    usage = run("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container_id).stdout.split("/")[0].strip()
    number, unit = re.match(r"([0-9.]+)\s*([KMG]i?B)", usage).groups()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def memory_per_user(stack, mode, logins, hub_alone_mb):
    """Each user's RSS, and their share of cgroup memory: their container's, or (local mode)
    what the hub's container grew by since it ran alone, divided among them."""
    hub = hub_container_id(stack, mode)
    if mode == "local":
        uids = {login: int(stack.exec("id", "-u", login).stdout) for login in logins}
        share = (cgroup_mb(hub) - hub_alone_mb) / len(logins)
        return {"rss_mb": [resident_mb(hub, uids[login]) for login in logins], "cgroup_mb": [share]}
    containers = [user_container_ids(stack, login)[0] for login in logins]
    return {"rss_mb": [resident_mb(c) for c in containers], "cgroup_mb": [cgroup_mb(c) for c in containers]}


STARTED = re.compile(r"User (\S+) took ([0-9.]+) seconds to start")


def hub_start_seconds(stack, logins):
    """What the hub logged for each start (spawn request to server answering), to the ms."""
    found = dict(STARTED.findall(stack.logs()))
    return [float(found[login]) for login in logins if login in found]


def summary(values):
    if not values:
        return None
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def measure(mode, users, port):
    stack = site(mode, users, port)
    say(f"[{mode}] starting the stack on port {port}")
    bring_up(stack, mode)
    logins = [f"bench{i:03d}" for i in range(users)]
    sessions, spawn_seconds = [], []
    try:
        hub_alone_mb = cgroup_mb(hub_container_id(stack, mode))
        for login in logins:
            session = HubClient(stack, login)
            assert session.log_in(f"{login}pw"), f"{login} could not log in"
            started = time.monotonic()
            session.start_server(timeout=300)
            spawn_seconds.append(time.monotonic() - started)
            sessions.append(session)
            say(f"[{mode}] {login}: server ready in {spawn_seconds[-1]:.1f} s")
        hub_seconds = hub_start_seconds(stack, logins)
        time.sleep(SETTLE_SECONDS)
        idle_server = memory_per_user(stack, mode, logins, hub_alone_mb)
        for session in sessions:
            kernel = kernels.start_kernel(session)
            assert kernel
        time.sleep(SETTLE_SECONDS)
        with_kernel = memory_per_user(stack, mode, logins, hub_alone_mb)
        hub_mb = cgroup_mb(hub_container_id(stack, mode))
    finally:
        take_down(stack, mode)
    return {
        "mode": mode, "users": users,
        "spawn_seconds": summary(spawn_seconds),
        "hub_start_seconds": summary(hub_seconds),
        "hub_alone_mb": round(hub_alone_mb, 1),
        "idle_server": {name: summary(values) for name, values in idle_server.items()},
        "idle_with_kernel": {name: summary(values) for name, values in with_kernel.items()},
        "hub_container_mb": round(hub_mb, 1),
    }


def markdown(results):
    def cell(figure):
        if figure is None:
            return "—"
        spread = "" if figure["min"] == figure["max"] else f" ({figure['min']:.0f}–{figure['max']:.0f})"
        return f"{figure['median']:.0f}{spread}"

    rows = [
        "| Mode | Start, hub's log, s | Start, as the browser sees it, s | Idle server, MB RSS | cgroup MB | "
        "With an idle kernel, MB RSS | cgroup MB |",
        "|---|---|---|---|---|---|---|",
    ]

    def seconds(figure):
        return "—" if figure is None else f"{figure['median']:.1f} ({figure['min']:.1f}–{figure['max']:.1f})"

    for r in results:
        rows.append(
            f"| {r['mode']} | {seconds(r['hub_start_seconds'])} | {seconds(r['spawn_seconds'])} "
            f"| {cell(r['idle_server']['rss_mb'])} | {cell(r['idle_server']['cgroup_mb'])} "
            f"| {cell(r['idle_with_kernel']['rss_mb'])} | {cell(r['idle_with_kernel']['cgroup_mb'])} |"
        )
    return "\n".join(rows)


def modes_command(args):
    folder = os.path.join(REPO, "bench-results", f"modes-{args.users}-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(folder, exist_ok=True)
    results = []
    for index, mode in enumerate(args.modes):
        results.append(measure(mode, args.users, 18400 + index))
        with open(os.path.join(folder, "result.json"), "w") as f:  # each mode's figures as soon as they exist
            json.dump(results, f, indent=2)
    table = markdown(results)
    with open(os.path.join(folder, "table.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    say(f"results: {folder}")
    return 0


def add_parser(commands, positive):
    modes = commands.add_parser("modes", help="per-user memory and server start time in each spawner mode")
    modes.add_argument("--users", type=positive, default=5, help="students per mode (default 5)")
    modes.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    modes.set_defaults(func=modes_command)
