"""`scripts/bench launch --users N`: how long the hub takes to answer a launch of a new student
(account made, logged in, redirected), LTI 1.1 against LTI 1.3, in the same run: each protocol
alone (the median of ALONE_RUNS launches one after the other), then N students at once.

Only the launch itself is timed, up to the hub's redirect: what follows (the server's start)
is the same for both protocols and is the storm's (`scripts/bench storm`). An LTI 1.3 launch is
two requests, the platform's login initiation and the id_token's form post, both timed. The
platform is harness/lti13_platform.py, its keyset served inside the hub's container.
"""

import json
import os
import secrets
import threading
import time

import requests

from bench_common import REPO, RESULTS, Compose, check_loopback, log, percentile, timestamp, write_json
from bench_storm import passport, wait_healthy
from harness import edx
from harness.lti13_platform import Platform

CONTEXT = "course-v1:BenchX+LAUNCH+2026"
NEXT = "/hub/home"
ALONE_RUNS = 5
PLATFORM_PORT = 9997
SCRIPT, KEYSET = "/srv/bench-lti13-platform.py", "/srv/bench-lti13-jwks.json"


def lti11_launch(url, passport_key, username):
    key, secret = passport_key
    session = requests.Session()
    params = edx.launch_params(url + "/hub/lti/launch", key, secret, username=username, context_id=CONTEXT,
                               custom={"next": NEXT})
    return session.post(url + "/hub/lti/launch", data=params, allow_redirects=False, timeout=300)


def lti13_launch(url, platform, username):
    session = requests.Session()
    login = session.get(url + "/hub/lti13/login", params=platform.login(url + "/hub/lti13/launch"),
                        allow_redirects=False, timeout=300)
    if login.status_code != 302:
        return login
    request = platform.auth_request(login.headers["Location"])
    token = platform.id_token(platform.claims(request["nonce"], sub="sub-" + username, preferred_username=username,
                                              context_id=CONTEXT, custom={"next": NEXT}))
    return session.post(url + "/hub/lti13/launch", data={"id_token": token, "state": request["state"]},
                        allow_redirects=False, timeout=300)


def timed(launch, url, credentials, username):
    started = time.perf_counter()
    response = launch(url, credentials, username)
    seconds = time.perf_counter() - started
    return seconds if response.status_code == 302 else None


def at_once(launch, url, credentials, usernames):
    """Each launch's seconds (None: refused), all released at the same moment."""
    results, gate = [None] * len(usernames), threading.Barrier(len(usernames))

    def one(index):
        gate.wait()
        results[index] = timed(launch, url, credentials, usernames[index])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(usernames))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def figures(values, wall=None):
    taken = [v for v in values if v is not None]
    found = {"n": len(values), "failed": len(values) - len(taken), "median": percentile(taken, 50),
             "p95": percentile(taken, 95), "max": max(taken) if taken else None}
    if wall is not None:
        found["all_answered"] = wall
    return {name: round(value, 3) if isinstance(value, float) else value for name, value in found.items()}


def start_platform(compose, platform):
    compose.run("cp", os.path.join(REPO, "harness", "lti13_platform.py"), f"hub:{SCRIPT}")
    compose.exec("sh", "-c", f"cat > {KEYSET}", input=json.dumps(platform.keyset()))
    compose.exec("pkill", "-f", SCRIPT, check=False)
    compose.run("exec", "-d", "hub", "/opt/venv/bin/python3", SCRIPT, str(PLATFORM_PORT), KEYSET)
    compose.exec("hubsetup", "lti13", "add", "--replace", *platform.registration())


def launch_command(args):
    check_loopback(args.url)
    url, compose = args.url.rstrip("/"), Compose(args.project)
    wait_healthy(url)
    run_id = secrets.token_hex(3)
    platform = Platform("https://bench-lms.example.org", client_id=f"bench-{run_id}", port=PLATFORM_PORT)
    start_platform(compose, platform)
    protocols = {"lti11": (lti11_launch, passport(compose)), "lti13": (lti13_launch, platform)}
    result = {"run": run_id, "users": args.users}
    try:
        for name, (launch, credentials) in protocols.items():
            log(f"{name}: {ALONE_RUNS} launches alone, then {args.users} at once")
            timed(launch, url, credentials, f"l{run_id}-{name}-warm")  # the course made, keysets fetched
            alone = [timed(launch, url, credentials, f"l{run_id}-{name}-a{i}") for i in range(ALONE_RUNS)]
            crowd, wall = at_once(launch, url, credentials, [f"l{run_id}-{name}-{i:03d}" for i in range(args.users)])
            result[name] = {"alone": figures(alone), "at_once": figures(crowd, round(wall, 3))}
    finally:
        compose.exec("pkill", "-f", SCRIPT, check=False)
        compose.exec("hubsetup", "lti13", "remove", "--issuer", platform.issuer, "--client-id", platform.client_id,
                     check=False)
    out = args.out or os.path.join(RESULTS, f"launch-{args.users}-{timestamp()}")
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "result.json"), result)
    print(json.dumps(result, indent=2))
    failed = sum(result[name][kind]["failed"] for name in protocols for kind in ("alone", "at_once"))
    return 0 if failed == 0 else 1


def add_parser(commands, positive):
    launch = commands.add_parser("launch", help="launch time of new students, LTI 1.1 against LTI 1.3: alone, "
                                                "then N at once")
    launch.add_argument("--users", type=positive, default=25)
    launch.add_argument("--url", default="http://127.0.0.1:18008", help="the bench stack's hub (loopback only)")
    launch.add_argument("--project", default="hubbench")
    launch.add_argument("--out", help="results folder (default: bench-results/launch-N-<timestamp>)")
    launch.set_defaults(func=launch_command)
