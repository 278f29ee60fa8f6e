"""What the benchmarks share: figures, results, the machine, compose and the hub's settings."""

import json
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from harness import commands  # noqa: E402 (from the repo just put on the path)

COMPOSE_FILE = os.path.join(REPO, "docker-compose.yml")
PROGRAMS = os.path.join(REPO, "scripts", "bench_programs")
RESULTS = os.path.join(REPO, "bench-results")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ADMIN = "benchadmin"
MB = 1024 * 1024


def program(name):
    """The source of a program the benchmark runs inside a container (scripts/bench_programs)."""
    with open(os.path.join(PROGRAMS, name)) as f:
        return f.read()


def log(message):
    print(message, file=sys.stderr, flush=True)


def timestamp():
    return time.strftime("%Y%m%d-%H%M%S")


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats(values):
    rounded = lambda v: None if v is None else round(v, 3)  # noqa: E731
    return {
        "n": len(values), "p50": rounded(percentile(values, 50)), "p95": rounded(percentile(values, 95)),
        "max": rounded(max(values) if values else None), "mean": rounded(sum(values) / len(values) if values else None),
    }


def ratio(value, base):
    return round(value / base, 2) if value is not None and base else None


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def check_loopback(url):
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"--url must be a loopback address ({', '.join(sorted(LOOPBACK))}), not {host!r}")


def checkout():
    """This checkout's commit and how many files differ from it (the image may be another build)."""
    def git(*args):
        return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, timeout=60).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed_files": len(git("status", "--porcelain").splitlines())}


def machine():
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return {"cores": os.cpu_count(), "memory_gib": round(total_kb / 1024 / 1024, 1), "loadavg": os.getloadavg()}


# --- the compose project --------------------------------------------------------------------------

class Compose:
    """`docker compose -p PROJECT -f docker-compose.yml ...` for the stack under test."""

    def __init__(self, project, env=None):
        self.project = project
        self.env = dict(os.environ, **(env or {}))

    def command(self, *args, extra_files=()):
        files = [arg for path in (COMPOSE_FILE, *extra_files) for arg in ("-f", path)]
        return ["docker", "compose", "-p", self.project, *files, *args]

    def run(self, *args, check=True, input=None, timeout=600, extra_files=()):
        return commands.run(self.command(*args, extra_files=extra_files), error=SystemExit, check=check,
                            timeout=timeout, env=self.env, cwd=REPO, input=input)

    def exec(self, *command, check=True, input=None, timeout=120):
        return self.run("exec", "-T", "hub", *command, check=check, input=input, timeout=timeout)

    def popen_exec(self, *command):
        return subprocess.Popen(self.command("exec", "-T", "hub", *command), env=self.env, cwd=REPO,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def container(self):
        return self.run("ps", "-q", "hub").stdout.strip()


# The settings the hub runs with, as the image's own hubsetup reads them (defaults filled in).
SETTINGS_SNIPPET = (
    "import json\nfrom hubsetup.settings import Settings, declared\nsettings = Settings.from_env()\n"
    "print(json.dumps({env: getattr(settings, name) for name, _, env, _, _ in declared() if 'SECRET' not in env}))"
)


def hub_settings(compose, container):
    """(settings, image) of the running hub: the settings its image's hubsetup reads, secrets
    left out, and the image's id, name and version label."""
    found = compose.exec("python3", "-c", SETTINGS_SNIPPET, check=False)
    settings = json.loads(found.stdout) if found.returncode == 0 else {"error": found.stderr.strip()[-300:]}
    inspect = subprocess.run(["docker", "inspect", container], capture_output=True, text=True, timeout=60)
    if inspect.returncode != 0:
        return settings, {}
    info = json.loads(inspect.stdout)[0]
    image = {"id": info["Image"], "name": info["Config"]["Image"],
             "version": info["Config"]["Labels"].get("org.opencontainers.image.version")}
    return settings, image


# --- memory and CPU, sampled inside the hub container ---------------------------------------------
