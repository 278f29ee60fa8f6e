"""Benchmarks of the teaching hub (issue 8): run through scripts/bench, which brings the venv.

  bench up [--build]          a stack of its own (project hubbench, port 18008) whose hub has an
                              admin, so that a storm can delete its users afterwards
  bench storm --users N       N simultaneous edX LTI launches against a running stack, each
                              followed to a kernel that computes 1+1; the floor (a student
                              alone, 3 times by default) measured first
  bench sync --rows 10000     `hubsetup accounts sync` at scale, and per-user useradd+chpasswd for
                              comparison, in a throwaway container of the image
  bench down                  stop and remove the bench stack and its volumes
  bench modes [--users N]     per-user memory and server start time with servers as local
                              processes, containers and Swarm services (stacks of its own)
  bench grading --submissions N
                              N submissions at once to a course graded on submit: time until
                              every score is at the LMS, and a student's server meanwhile
  bench table DIR...          a Markdown table of storm results, one column per run
  bench replot DIR            draw a storm's storm.png again from its result.json

Only loopback URLs are accepted: a storm is a load test. Every loop is bounded in count and time.
Results go to bench-results/<scenario>-<size>-<timestamp>/ (result.json; a storm adds storm.png
and hub.log, the hub's log during the run).
"""

import argparse
import os
import secrets
import subprocess
import sys

from bench_common import ADMIN, REPO, RESULTS, Compose  # first: it puts the repo, and so harness/, on sys.path
import bench_grading
import bench_launch
import bench_modes  # noqa: I001
from bench_storm import replot_command, storm_command, table_command, wait_healthy
from bench_sync import sync_command


def stack_dir(project):
    return os.path.join(RESULTS, f"stack-{project}")


def stack_compose(args):
    """The bench stack: its own accounts file (one admin, random password) and an override that
    makes that login a hub admin and grades `bench grading`'s course on submit; both kept in
    bench-results/stack-<project>/."""
    directory = stack_dir(args.project)
    os.makedirs(directory, exist_ok=True)
    accounts = os.path.join(directory, "accounts.csv")
    if not os.path.exists(accounts):
        with open(accounts, "w") as f:
            f.write(f"login;password;teacher;courses\n{ADMIN};{secrets.token_urlsafe(18)};0\n")
    override = os.path.join(directory, "admin.override.yml")
    with open(override, "w") as f:
        f.write(f"# Written by scripts/bench: makes {ADMIN} a hub admin, for the bench's cleanup.\n"
                f"services:\n  hub:\n    environment:\n      ADMIN_USERS: {ADMIN}\n"
                f"      AUTOGRADE_ON_SUBMIT: {bench_grading.COURSE}\n"
                f"      SERVER_FACTORY: {getattr(args, 'server_factory', 'yes')}\n")
    env = {"HUB_PORT": str(args.port), "ACCOUNTS_DIR": directory, "HUB_IMAGE": args.image}
    return Compose(args.project, env), override


def up_command(args):
    compose, override = stack_compose(args)
    if args.build:
        base = subprocess.run([os.path.join(REPO, "scripts", "base-image")], capture_output=True, text=True,
                              check=True, timeout=3600).stdout.strip()
        compose.env["BASE_IMAGE"] = base
        compose.run("build", timeout=3600)
    compose.run("down", "-v", "--remove-orphans", check=False, extra_files=(override,))
    compose.run("up", "-d", extra_files=(override,))
    url = f"http://127.0.0.1:{args.port}"
    wait_healthy(url)
    print(f"bench stack {args.project} up at {url} (admin: {ADMIN}); run: scripts/bench storm --users N "
          f"--url {url} --project {args.project}")
    return 0


def down_command(args):
    compose, override = stack_compose(args)
    compose.run("down", "-v", "--remove-orphans", extra_files=(override,))
    print(f"bench stack {args.project} removed")
    return 0


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser():
    top = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)

    storm = commands.add_parser("storm", help="N simultaneous edX launches against a running stack")
    storm.add_argument("--users", type=positive, required=True, help="students launching at once")
    storm.add_argument("--url", default="http://127.0.0.1:18008", help="the hub (loopback only)")
    storm.add_argument("--project", default="hubbench", help="its docker compose project")
    storm.add_argument("--out", help="results folder (default: bench-results/storm-N-<timestamp>)")
    storm.add_argument("--ramp", type=float, default=0.0, help="spread the launches over this many seconds")
    storm.add_argument("--timeout", type=float, default=300.0, help="seconds each student may take to get 1+1")
    storm.add_argument("--sample-every", type=float, default=0.5, help="seconds between memory samples")
    storm.add_argument("--floor-runs", type=positive, default=3, help="students launched alone first (median)")
    storm.add_argument("--keep", action="store_true", help="leave the servers running afterwards")
    storm.add_argument("--lesson-mb", type=float, help="each launch opens a lesson whose published materials hold "
                       "a data file of this many MB (delivered into every student's home first)")
    storm.set_defaults(func=storm_command)

    sync = commands.add_parser("sync", help="time `hubsetup accounts sync` in a throwaway container")
    sync.add_argument("--rows", type=int, default=10000, help="rows of the generated accounts.csv")
    sync.add_argument("--sample", type=int, default=200, help="users in each useradd+chpasswd sample")
    sync.add_argument("--changed", type=int, default=100, help="rows whose password changes for the third sync")
    sync.add_argument("--repeat", type=int, default=3, help="runs of the no-op and changed-rows syncs (medians)")
    sync.add_argument("--teacher-every", type=int, default=200, help="one teacher (and course) per this many rows")
    sync.add_argument("--profile", action="store_true", help="also profile a cold sync (cProfile, top 25 by own time)")
    sync.add_argument("--no-prehashed", action="store_true", help="skip the cold sync with pre-hashed passwords")
    sync.add_argument("--image", default="teaching-hub:test")
    sync.add_argument("--out", help="results folder (default: bench-results/sync-ROWS-<timestamp>)")
    sync.add_argument("--max-seconds", type=float, default=3600)
    sync.set_defaults(func=sync_command)

    replot = commands.add_parser("replot", help="draw storm.png again from a storm's result.json")
    replot.add_argument("dir", help="the storm's results folder")
    replot.set_defaults(func=replot_command)

    bench_modes.add_parser(commands, positive)
    bench_grading.add_parser(commands, positive)
    bench_launch.add_parser(commands, positive)

    table = commands.add_parser("table", help="a Markdown table of storm results, one column per run")
    table.add_argument("dirs", nargs="+", help="storms' results folders")
    table.set_defaults(func=table_command)

    for name, func, text in (("up", up_command, "start the bench stack (fresh volumes) with an admin"),
                             ("down", down_command, "stop the bench stack and remove its volumes")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--project", default="hubbench")
        command.add_argument("--port", type=int, default=18008)
        command.add_argument("--image", default="teaching-hub:test")
        if name == "up":
            command.add_argument("--build", action="store_true", help="build the image first")
            command.add_argument("--server-factory", choices=("yes", "no"), default="yes",
                                 help="SERVER_FACTORY of the stack: fork servers and kernels (yes) or start them plainly")
        command.set_defaults(func=func)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
