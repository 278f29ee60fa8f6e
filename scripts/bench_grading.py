"""`scripts/bench grading --submissions N`: N students of an LMS course graded on submit submit
at once; the time until every score is at the LMS (the test LMS's outcome service in the hub's
container), and how a student's server answers meanwhile.

Runs against the bench stack (`scripts/bench up`), whose hub grades the bench's course on
submit. Students are launched from edX as the storm's are; they fetch and submit with
nbgrader's commands as themselves, in the hub's container (the local mode's servers run
there too). One more student, with a running server, is the probe: every PROBE_EVERY seconds
its server's API is asked for a file listing.
"""

import json
import os
import secrets
import time

from bench_common import REPO, RESULTS, Compose, check_loopback, log, percentile, timestamp, write_json
from bench_storm import HealthProbe, passport, wait_healthy
from harness import edx
from harness.stack import HubClient

CONTEXT = "course-v1:BenchX+GRADING+2026"
COURSE = "course-v1-benchx-grading-2026"  # the hub's name for it: bench.py's stack grades it on submit
OUTCOMES = "http://127.0.0.1:9999/outcomes"
LMS_SCRIPT, RECORD = "/srv/bench-lms.py", "/srv/bench-lms.json"
PROBE_EVERY = 1.0
NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "cells": [
        {"cell_type": "code", "execution_count": None, "outputs": [], "source": "def add(a, b):\n    ### BEGIN SOLUTION\n"
         "    return a + b\n    ### END SOLUTION", "metadata": {"nbgrader": {"grade": False, "solution": True,
         "locked": False, "grade_id": "answer", "schema_version": 3}}},
        {"cell_type": "code", "execution_count": None, "outputs": [], "source": "import numpy\nassert add(1, 2) == 3",
         "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                                   "grade_id": "test", "schema_version": 3}}},
    ],
}
# Run by each student on their fetched copy: the right answer in the answer cell.
ANSWER, ANSWER_SCRIPT = "/srv/bench-answer.py", """
import json, sys
notebook = json.load(open(sys.argv[1]))
notebook["cells"][0]["source"] = "def add(a, b):\\n    return a + b"
json.dump(notebook, open(sys.argv[1], "w"))
"""


class Place:
    """What HubClient needs of a stack: its URL."""

    def __init__(self, url):
        self.url = url


def launch(url, key, secret, login, roles="Student,Learner"):
    session = HubClient(Place(url), login)
    params = edx.launch_params(url + "/hub/lti/launch", key, secret, username=login, roles=roles, context_id=CONTEXT,
                               custom={"assignment": "ps1"} if "Student" in roles else {},
                               lis_outcome_service_url=OUTCOMES, lis_result_sourcedid=f"{CONTEXT}:ps1:{login}")
    response = session.launch(params)
    if response.status_code != 302:
        raise SystemExit(f"launch of {login} failed: HTTP {response.status_code}")
    return session


def in_parallel(logins, command):
    """One shell line running `command` (with {login}) as each login at once."""
    jobs = " ".join(f"runuser -u {login} -- sh -c 'cd /home/{login} && HOME=/home/{login} {command.format(login=login)}' &"
                    for login in logins)
    return f"{jobs} wait"


class ServerProbe(HealthProbe):
    """A student's server while the others are graded: how long its API takes to list the
    student's files, every PROBE_EVERY seconds."""

    def __init__(self, student, max_seconds):
        super().__init__(student.stack.url, max_seconds, every=PROBE_EVERY)
        self.student = student

    def request(self, session):
        return self.student.server_api("GET", "api/contents", timeout=30).status_code


def scores_at_lms(compose):
    found = compose.exec("cat", RECORD, check=False)
    try:
        return json.loads(found.stdout)["scores"] if found.returncode == 0 else {}
    except ValueError:  # read while the LMS rewrites it: the next look sees it whole
        return {}


def figures(values):
    values = [v for v in values if v is not None]
    return {"n": len(values), "median": percentile(values, 50), "p95": percentile(values, 95),
            "max": max(values) if values else None}


def grading_command(args):
    check_loopback(args.url)
    url, compose = args.url.rstrip("/"), Compose(args.project)
    wait_healthy(url)
    graded = compose.exec("printenv", "AUTOGRADE_ON_SUBMIT", check=False).stdout.split()
    if COURSE not in graded and "*" not in graded:
        raise SystemExit(f"the hub does not grade {COURSE} on submit: start the bench stack with `scripts/bench up`")
    key, secret = passport(compose)
    compose.run("cp", os.path.join(REPO, "harness", "lms_outcomes.py"), f"hub:{LMS_SCRIPT}")
    compose.exec("pkill", "-f", LMS_SCRIPT, check=False)
    compose.exec("rm", "-f", RECORD)
    compose.run("exec", "-d", "hub", "/opt/venv/bin/python3", LMS_SCRIPT, "9999", key, secret, RECORD)
    run_id = secrets.token_hex(3)
    teacher = f"grading-{run_id}-teacher"
    students = [f"grading-{run_id}-{i:03d}" for i in range(1, args.submissions + 1)]
    log(f"launching a teacher and {len(students)} students of {COURSE} ({run_id})")
    launch(url, key, secret, teacher, roles="Instructor")
    for login in students:
        launch(url, key, secret, login)
    root = f"/srv/nbgrader/courses/{COURSE}"
    # An earlier run's assignment and gradebook are its (removed) teacher's: the bench's course starts empty.
    compose.exec("sh", "-c", f"rm -rf {root}/* /srv/nbgrader/exchange/{COURSE}/outbound/* "
                 f"/srv/nbgrader/exchange/{COURSE}/inbound/*")
    compose.exec("runuser", "-u", teacher, "--", "sh", "-c",
                 f"mkdir -p {root}/source/ps1 && cat > {root}/source/ps1/ps1.ipynb && cd {root} && "
                 f"export NBGRADER_COURSE_ID={COURSE} NBGRADER_COURSE_ROOT={root} && "
                 "nbgrader generate_assignment ps1 --force && nbgrader release_assignment ps1 --force",
                 input=json.dumps(NOTEBOOK), timeout=300)
    compose.exec("sh", "-c", f"cat > {ANSWER} && chmod 644 {ANSWER}", input=ANSWER_SCRIPT)
    compose.exec("sh", "-c", in_parallel(students, f"nbgrader fetch_assignment --course {COURSE} ps1 && "
                                         f"/opt/venv/bin/python3 {ANSWER} {COURSE}/ps1/ps1.ipynb"), timeout=900)
    probe_session = launch(url, key, secret, f"grading-{run_id}-probe")
    probe_session.start_server(timeout=300)
    probe = ServerProbe(probe_session, args.max_seconds + 120)
    probe.start()
    time.sleep(10)  # the probe's figures before the submissions
    log(f"{len(students)} submissions at once")
    started = time.time()
    compose.exec("sh", "-c", in_parallel(students, f"nbgrader submit --course {COURSE} ps1 >/dev/null 2>&1"),
                 timeout=900)
    submitted = time.time()
    arrived, deadline = {}, started + args.max_seconds
    wanted = {f"{CONTEXT}:ps1:{login}": login for login in students}
    while len(arrived) < len(wanted) and time.time() < deadline:
        now = time.time()
        for sourcedid in scores_at_lms(compose):
            if sourcedid in wanted and sourcedid not in arrived:
                arrived[sourcedid] = now - started
        time.sleep(0.5)
    records = probe.stop()
    before = [r for r in records if r[0] < started]
    during = [r for r in records if started <= r[0] <= started + max(arrived.values(), default=0)]
    # The students' own 50 `nbgrader submit`s load the machine first; then only the grading does.
    grading = [r for r in during if r[0] >= submitted]
    result = {
        "run": run_id, "submissions": len(students), "at_lms": len(arrived),
        "submit_seconds": round(submitted - started, 1),
        "all_at_lms_seconds": round(max(arrived.values()), 1) if len(arrived) == len(wanted) else None,
        "score_arrival": figures(list(arrived.values())),
        "probe_api_before": figures([r[1] for r in before]),
        "probe_api_during": figures([r[1] for r in during]),
        "probe_api_after_the_submits": figures([r[1] for r in grading]),
        "probe_failures_during": [r[2] for r in during if r[2] != 200],
    }
    out = args.out or os.path.join(RESULTS, f"grading-{len(students)}-{timestamp()}")
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "result.json"), result)
    print(json.dumps(result, indent=2))
    compose.exec("pkill", "-f", LMS_SCRIPT, check=False)
    return 0 if result["all_at_lms_seconds"] is not None else 1


def add_parser(commands, positive):
    grading = commands.add_parser("grading", help="N submissions at once, graded on submit: time until every "
                                                  "score is at the LMS, and a student's server meanwhile")
    grading.add_argument("--submissions", type=positive, default=50)
    grading.add_argument("--url", default="http://127.0.0.1:18008", help="the bench stack's hub (loopback only)")
    grading.add_argument("--project", default="hubbench")
    grading.add_argument("--max-seconds", type=float, default=900, help="give up waiting for scores after this")
    grading.add_argument("--out", help="results folder (default: bench-results/grading-N-<timestamp>)")
    grading.set_defaults(func=grading_command)
