"""The class-start storm: N simultaneous edX launches, each followed to a kernel, measured
against the floor of a student alone (docs/benchmarks.md)."""

import json
import os
import re
import resource
import secrets
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

import requests
import websocket

from bench_common import (  # first: it puts the repo, and so harness/, on sys.path
    MB, RESULTS, Compose, check_loopback, checkout, hub_settings, log, machine, percentile, program, ratio,
    stats, timestamp, write_json,
)
from harness import edx  # launches signed as edX signs them

COURSE = "course-v1:BenchX+Storm+2026"
NEXT = "/hub/user-redirect/lab"
HEALTH_EVERY = 0.5
REDIRECT_HOPS = 10


# Runs in the container: one JSON line per interval with the RSS and CPU time of the hub, the proxy,
# each user's server and kernels ([rss bytes, CPU s, processes]), the container's memory (cgroup)
# and the machine's busy CPU seconds (/proc/stat is not namespaced). Stops at its
# deadline, at EOF on stdin, or when nobody reads its output.
SAMPLER = program("sampler.py")
PSS = program("pss.py")


class Sampler:
    """The SAMPLER above, running in the hub container for the length of a storm."""

    def __init__(self, compose, interval, max_seconds):
        self.samples = []
        self.process = compose.popen_exec("python3", "-c", SAMPLER, str(interval), str(max_seconds))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            try:
                self.samples.append(json.loads(line))
            except ValueError:
                pass

    def wait_first(self, timeout=30):
        deadline = time.time() + timeout
        while not self.samples and time.time() < deadline and self.process.poll() is None:
            time.sleep(0.1)
        if not self.samples:
            raise SystemExit("the memory sampler in the hub container did not start")

    def stop(self):
        try:
            self.process.stdin.close()
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.reader.join(timeout=15)
        return self.samples

    def at(self, moment):
        """The first sample taken at or after `moment` (epoch seconds), else the last one."""
        for sample in self.samples:
            if sample["t"] >= moment:
                return sample
        return self.samples[-1] if self.samples else None


class HealthProbe(threading.Thread):
    """GET /hub/health every `every` seconds: (time, latency, HTTP status or error)."""

    def __init__(self, url, max_seconds, every=HEALTH_EVERY):
        super().__init__(daemon=True)
        self.url, self.deadline, self.every = url + "/hub/health", time.time() + max_seconds, every
        self.records, self.stopping = [], threading.Event()

    def request(self, session):
        """The HTTP status of one look."""
        return session.get(self.url, timeout=30).status_code

    def run(self):
        session = requests.Session()
        while not self.stopping.is_set() and time.time() < self.deadline:
            started = time.time()
            try:
                status = self.request(session)
            except requests.RequestException as error:
                status = type(error).__name__
            self.records.append((started, time.time() - started, status))
            self.stopping.wait(max(0.0, self.every - (time.time() - started)))

    def stop(self):
        self.stopping.set()
        self.join(timeout=40)
        return self.records


# --- one student: launch, server, kernel, 1+1 -----------------------------------------------------

class StudentFailed(Exception):
    def __init__(self, phase, message):
        super().__init__(f"{phase}: {message}")
        self.phase = phase


@dataclass
class Student:
    """One simulated student; times are epoch seconds, None until reached."""
    lti_user: str
    login: str = ""
    location: str = NEXT  # where the launch sent the student
    start: float = None
    launched: float = None
    ready: float = None
    lab: float = None
    kernel: float = None
    result: float = None
    ended: float = None
    last_event: str = None  # the last spawn progress message seen, for a failure's diagnosis
    error: str = None
    phase: str = None
    session: requests.Session = field(default=None, repr=False)

    def seconds(self, moment):
        return None if moment is None or self.start is None else round(moment - self.start, 3)

    def record(self, origin):
        return {
            "lti_user": self.lti_user, "login": self.login,
            "start_offset_s": None if self.start is None else round(self.start - origin, 3),
            "launch_s": self.seconds(self.launched), "ready_s": self.seconds(self.ready),
            "lab_s": self.seconds(self.lab), "kernel_s": self.seconds(self.kernel),
            "first_result_s": self.seconds(self.result), "ended_s": self.seconds(self.ended),
            "error": self.error, "failed_phase": self.phase, "last_progress_event": self.last_event,
        }


class Storm:
    """What every student shares: the hub's URL, the consumer's key and secret, a time limit,
    and the lesson (course, path) each launch opens, if any (its materials delivered first)."""

    def __init__(self, url, key, secret, timeout, lesson=None):
        self.url, self.key, self.secret, self.timeout, self.lesson = url, key, secret, timeout, lesson

    def run_student(self, student):
        student.session = requests.Session()
        student.start = time.time()
        deadline = student.start + self.timeout
        try:
            self._launch(student, deadline)
            self._wait_ready(student, deadline)
            self._open_lab(student, deadline)
            kernel_id = self._start_kernel(student, deadline)
            self._execute(student, kernel_id, deadline)
        except StudentFailed as failure:
            student.error, student.phase = str(failure), failure.phase
            if failure.phase == "timeout":
                student.error += f" (still in phase {self._phase(student)})"
        except (requests.RequestException, websocket.WebSocketException, OSError, ValueError, KeyError) as error:
            student.error = f"{self._phase(student)}: {type(error).__name__}: {error}"
            student.phase = self._phase(student)
        student.ended = time.time()

    @staticmethod
    def _phase(student):
        for moment, phase in ((student.kernel, "execute"), (student.lab, "kernel"), (student.ready, "lab"),
                              (student.launched, "spawn")):
            if moment is not None:
                return phase
        return "launch"

    @staticmethod
    def _left(deadline):
        left = deadline - time.time()
        if left <= 0:
            raise StudentFailed("timeout", "no result within the time limit")
        return left

    def _launch(self, student, deadline):
        """POST the signed form, signed just before sending as the LMS page does."""
        custom = {"lesson": self.lesson[1]} if self.lesson else {"next": NEXT}
        params = edx.launch_params(self.url + "/hub/lti/launch", self.key, self.secret, username=student.lti_user,
                                   context_id=COURSE, custom=custom)
        response = student.session.post(self.url + "/hub/lti/launch", data=params, allow_redirects=False,
                                        timeout=(10, self._left(deadline)))
        if response.status_code != 302:
            raise StudentFailed("launch", f"HTTP {response.status_code}: {response.text[:200]}")
        student.launched = time.time()
        student.location = response.headers["Location"]

    def _wait_ready(self, student, deadline):
        """Follow the redirects to the spawn-pending page, then the progress event stream."""
        location = student.location
        for _ in range(REDIRECT_HOPS):
            response = student.session.get(urljoin(self.url, location), allow_redirects=False,
                                           timeout=(10, self._left(deadline)))
            if response.status_code not in (301, 302, 303, 307, 308):
                raise StudentFailed("spawn", f"HTTP {response.status_code} at {location}: {response.text[:200]}")
            location = response.headers["Location"]
            path = urlsplit(location).path
            match = re.match(r"/(?:hub/spawn-pending|hub/spawn|user)/([^/?]+)", path)
            if match:
                student.login = unquote(match.group(1))
            if path.startswith(f"/user/{student.login}/"):
                student.ready = time.time()  # already running: the hub sends us straight there
                return
            if path.startswith("/hub/spawn-pending/"):
                return self._follow_progress(student, deadline)
        raise StudentFailed("spawn", f"more than {REDIRECT_HOPS} redirects (last: {location})")

    def _follow_progress(self, student, deadline):
        url = f"{self.url}/hub/api/users/{student.login}/server/progress"
        with student.session.get(url, headers={"Accept": "text/event-stream"}, stream=True,
                                 timeout=(10, self._left(deadline))) as events:
            if events.status_code != 200:
                raise StudentFailed("spawn", f"progress HTTP {events.status_code}: {events.text[:200]}")
            for line in events.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    self._left(deadline)
                    continue
                event = json.loads(line[len("data:"):])
                student.last_event = f"{event.get('progress')}% {event.get('message', '')}"[:200]
                if event.get("failed"):
                    raise StudentFailed("spawn", event.get("message", "spawn failed"))
                if event.get("ready"):
                    student.ready = time.time()
                    return
                self._left(deadline)
        raise StudentFailed("spawn", "progress stream ended before the server was ready")

    def _open_lab(self, student, deadline):
        """The page the browser opens: the OAuth redirects through the hub set the server's
        cookies. A lesson's page delivers the materials, then sends the browser to JupyterLab."""
        prefix = f"/user/{student.login}/"
        start, path = f"{prefix}lab", f"{prefix}lab"
        if self.lesson:
            course, lesson = self.lesson
            start, path = f"{prefix}open/lesson/{course}/{lesson}", f"{prefix}lab/tree/{course}/{lesson}"
        response = student.session.get(self.url + start, timeout=(10, self._left(deadline)))
        if response.status_code != 200 or urlsplit(response.url).path != path:
            raise StudentFailed("lab", f"HTTP {response.status_code} at {response.url}")
        student.lab = time.time()

    def _start_kernel(self, student, deadline):
        prefix = f"/user/{student.login}/"
        xsrf = student.session.cookies.get("_xsrf", path=prefix) or ""
        response = student.session.post(self.url + prefix + "api/kernels", json={"name": "python3"},
                                        headers={"X-XSRFToken": xsrf}, timeout=(10, self._left(deadline)))
        if response.status_code != 201:
            raise StudentFailed("kernel", f"HTTP {response.status_code}: {response.text[:200]}")
        student.kernel = time.time()
        return response.json()["id"]

    def _execute(self, student, kernel_id, deadline):
        """`1+1` over the kernel's websocket (Jupyter messaging, JSON frames), as JupyterLab does."""
        prefix = f"/user/{student.login}/"
        cookies = "; ".join(f"{c.name}={c.value}" for c in student.session.cookies if c.path in ("/", prefix))
        ws_url = "ws" + self.url[len("http"):] + f"{prefix}api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
        ws = websocket.create_connection(ws_url, header=[f"Cookie: {cookies}"], origin=self.url,
                                         timeout=self._left(deadline))
        try:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps(execute_request(msg_id, student.login, "1+1")))
            # The reply (shell) and the result (iopub) come on different channels, in either
            # order: done when the reply is in and the result too, or the kernel went idle.
            replied = idle = False
            for _ in range(1000):
                ws.settimeout(self._left(deadline))
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "execute_result":
                    if content["data"].get("text/plain") != "2":
                        raise StudentFailed("execute", f"1+1 gave {content['data']}")
                    student.result = time.time()
                elif kind == "execute_reply":
                    if content["status"] != "ok":
                        raise StudentFailed("execute", f"execute_reply {content['status']}: {content.get('evalue')}")
                    replied = True
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                if replied and (student.result or idle):
                    break
            if student.result is None:
                raise StudentFailed("execute", "no execute_result for 1+1")
        finally:
            ws.close()


def execute_request(msg_id, username, code):
    return {
        "header": {"msg_id": msg_id, "username": username, "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }


# --- stopping servers and removing users ----------------------------------------------------------

def admin_token(compose):
    """(login, token) of the hub's first ADMIN_USERS login, or (None, None) when it has none."""
    admins = compose.exec("printenv", "ADMIN_USERS", check=False).stdout.split()
    if not admins:
        return None, None
    # `jupyterhub token` loads the hub's config, which needs the auth-state key `hubsetup start` keeps.
    made = compose.exec("sh", "-c", 'JUPYTERHUB_CRYPT_KEY=$(cat "${HUB_STATE_DIR:-/srv/jupyterhub/state}/jupyterhub-crypt-key")'
                        ' exec jupyterhub token "$1"', "sh", admins[0], check=False, timeout=180)
    token = made.stdout.strip().splitlines()[-1] if made.returncode == 0 and made.stdout.strip() else None
    if token is None:
        log(f"no admin token for {admins[0]}: {made.stderr.strip()[-300:]}")
    return admins[0], token


def stop_own_server(url, student):
    """DELETE the server with the student's own session, as Hub Control Panel's Stop does."""
    xsrf = student.session.cookies.get("_xsrf", path="/hub/") or ""
    try:
        response = student.session.delete(f"{url}/hub/api/users/{student.login}/server", timeout=60,
                                          headers={"X-XSRFToken": xsrf, "Referer": url + "/hub/home"})
    except requests.RequestException:
        return False
    return response.status_code in (202, 204)


def server_gone(url, student, token):
    if token:
        response = requests.get(f"{url}/hub/api/users/{student.login}", timeout=30,
                                headers={"Authorization": f"token {token}"})
    else:
        xsrf = student.session.cookies.get("_xsrf", path="/hub/") or ""
        response = student.session.get(f"{url}/hub/api/user", timeout=30, headers={"X-XSRFToken": xsrf})
    if response.status_code == 404:
        return True
    model = response.json()
    return not model.get("servers") and model.get("pending") is None


def wait_stopped(url, students, token, max_seconds=120):
    waiting = list(students)
    deadline = time.time() + max_seconds
    while waiting and time.time() < deadline:
        waiting = [s for s in waiting if not server_gone(url, s, token)]
        if waiting:
            time.sleep(1)
    return [s.login for s in waiting]


def cleanup(url, students, admin, token, compose):
    """Stop every server the bench started; with an admin token, also delete the hub users;
    then remove the bench's LTI users from the registry, /etc and /home."""
    started = [s for s in students if s.login and s.session is not None]
    with ThreadPoolExecutor(max_workers=8) as pool:  # a stop can take a second or more each
        stopped = list(pool.map(lambda s: stop_own_server(url, s), started))
    refused = [s.login for s, ok in zip(started, stopped) if not ok]
    still_running = wait_stopped(url, started, token)
    deleted = []
    if token:
        for student in started:
            response = requests.delete(f"{url}/hub/api/users/{student.login}", timeout=30,
                                       headers={"Authorization": f"token {token}"})
            if response.status_code in (204, 404):
                deleted.append(student.login)
        forget_token(url, admin, token)
    for student in started:
        student.session.close()
    removable = [s.login for s in started if s.login not in still_running]
    removed = compose.exec("hubsetup", "users", "remove", *removable, check=False, timeout=600) if removable else None
    return {
        "servers_stopped": len(started) - len(still_running), "stop_refused": refused,
        "still_running": still_running, "hub_users_deleted": len(deleted),
        "system_users_removed": len(removable) if removed is not None and removed.returncode == 0 else 0,
        "remove_error": (removed.stderr.strip() if removed is not None and removed.returncode else ""),
    }


def forget_token(url, admin, token):
    headers = {"Authorization": f"token {token}"}
    me = requests.get(f"{url}/hub/api/user", headers=headers, timeout=30).json()
    if me.get("token_id"):
        requests.delete(f"{url}/hub/api/users/{admin}/tokens/{me['token_id']}", headers=headers, timeout=30)


# --- the storm scenario ---------------------------------------------------------------------------

def passport(compose):
    text = compose.exec("hubsetup", "lti", "passport").stdout.strip().splitlines()[-1]
    _, key, secret = text.split(":")
    return key, secret


def wait_healthy(url, max_seconds=180):
    deadline = time.time() + max_seconds
    while time.time() < deadline:
        try:
            if requests.get(url + "/hub/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit(f"{url}/hub/health did not answer 200 within {max_seconds}s")


LESSON = "lesson.ipynb"
LESSON_SCRIPT = """
import os, sys
root, megabytes = sys.argv[1], float(sys.argv[2])
os.makedirs(os.path.join(root, "data"), exist_ok=True)
with open(os.path.join(root, "lesson.ipynb"), "w") as f:
    f.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
with open(os.path.join(root, "data", "prices.bin"), "wb") as f:
    for _ in range(int(megabytes * 16)):
        f.write(os.urandom(65536))
"""


def prepare_lesson(compose, url, key, secret, megabytes, run_id):
    """A teacher of the storm's course publishes lesson.ipynb and a data file of `megabytes`
    MB (random, so that nothing compresses it); returns (Storm lesson, the teacher)."""
    teacher = Student(f"bench-{run_id}-teacher")
    teacher.session = requests.Session()
    params = edx.launch_params(url + "/hub/lti/launch", key, secret, username=teacher.lti_user, roles="Instructor",
                               context_id=COURSE)
    response = teacher.session.post(url + "/hub/lti/launch", data=params, allow_redirects=False, timeout=60)
    if response.status_code != 302:
        raise SystemExit(f"the teacher's launch failed: HTTP {response.status_code}")
    teacher.login = teacher.lti_user
    course = compose.exec("python3", "-c", f"from hubsetup.lti.names import course_name; print(course_name({COURSE!r}))"
                          ).stdout.strip()
    folder = f"/srv/nbgrader/courses/{course}/materials"
    compose.exec("rm", "-rf", folder)  # an earlier storm's, owned by its teacher (removed since)
    compose.exec("runuser", "-u", teacher.login, "--", "python3", "-c", LESSON_SCRIPT, folder, str(megabytes),
                 timeout=600)
    log(compose.exec("hubsetup", "materials", "publish", "--course", course, timeout=600).stdout.strip())
    return (course, LESSON), teacher


def run_storm(storm, students, ramp):
    go = threading.Event()

    def one(index, student):
        go.wait()
        if ramp:
            time.sleep(ramp * index / len(students))
        storm.run_student(student)

    threads = [threading.Thread(target=one, args=(i, s), daemon=True) for i, s in enumerate(students)]
    for thread in threads:
        thread.start()
    origin = time.time()
    go.set()
    deadline = origin + ramp + storm.timeout + 60
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.time()))
    return origin


def _total(table, logins, index):
    return sum(value[index] for user, value in table.items() if user in logins)


def _container_cpu(sample):
    everyone = set(sample["servers"]) | set(sample["kernels"])
    return (sample["hub"][1] + sample["proxy"][1] + sample["other"][1]
            + _total(sample["servers"], everyone, 1) + _total(sample["kernels"], everyone, 1))


def _mean_mb(table, logins):
    values = [value[0] for user, value in table.items() if user in logins]
    return round(sum(values) / len(values) / MB, 1) if values else None


def usage_between(sampler, start, end, logins):
    """CPU and peak memory of the hub and of the given users' servers and kernels."""
    window = [s for s in sampler.samples if start <= s["t"] <= end] or [sampler.at(end)]
    first, last = sampler.at(start), sampler.at(end)
    peak = lambda measure: round(max(measure(s) for s in window) / MB, 1)  # noqa: E731
    return {
        "hub_peak_rss_mb": peak(lambda s: s["hub"][0]),
        "hub_cpu_s": round(last["hub"][1] - first["hub"][1], 2),
        "proxy_peak_rss_mb": peak(lambda s: s["proxy"][0]),
        "servers_peak_total_mb": peak(lambda s: _total(s["servers"], logins, 0)),
        "kernels_peak_total_mb": peak(lambda s: _total(s["kernels"], logins, 0)),
        "user_processes_peak_total_mb": peak(lambda s: _total(s["servers"], logins, 0) + _total(s["kernels"], logins, 0)),
        "container_peak_mb": peak(lambda s: s["cgroup_mem"] or 0),
        "server_rss_mean_mb_at_end": _mean_mb(last["servers"], logins),
        "kernel_rss_mean_mb_at_end": _mean_mb(last["kernels"], logins),
        "servers_cpu_s": round(_total(last["servers"], logins, 1), 2),
        "kernels_cpu_s": round(_total(last["kernels"], logins, 1), 2),
        "machine_busy_cpu_s": round(last["busy_cpu"] - first["busy_cpu"], 2),
        "hub_container_cpu_s": round(_container_cpu(last) - _container_cpu(first), 2),
    }


def floor_figures(floor, sampler, before):
    at_lab, at_result = sampler.at(floor.lab), sampler.at(floor.result)
    server = at_lab["servers"].get(floor.login, [0, 0.0, 0])
    kernel = at_result["kernels"].get(floor.login, [0, 0.0, 0])
    return {
        "login": floor.login,
        "ready_s": floor.seconds(floor.ready), "first_result_s": floor.seconds(floor.result),
        "server_cpu_s": round(server[1], 2), "server_rss_mb": round(server[0] / MB, 1),
        "kernel_cpu_s": round(kernel[1], 2), "kernel_rss_mb": round(kernel[0] / MB, 1),
        "hub_cpu_s": round(at_result["hub"][1] - before["hub"][1], 2),
    }


def summarise(n, students, floor, health, usage, cores, window):
    ok = [s for s in students if not s.error]
    ready = [s.ready - s.start for s in ok]
    first = [s.result - s.start for s in ok]
    in_window = [r for r in health if window[0] <= r[0] <= window[1]]
    latencies = [r[1] for r in in_window]
    floor_cpu = floor["server_cpu_s"]
    full_cpu = floor["server_cpu_s"] + floor["kernel_cpu_s"] + floor["hub_cpu_s"]
    summary = {
        "users": n, "failures": n - len(ok), "ready_s": stats(ready), "first_result_s": stats(first),
        "health_max_latency_s": round(max(latencies), 3) if latencies else None,
        "health_p95_latency_s": round(percentile(latencies, 95), 3) if latencies else None,
        "health_p99_latency_s": round(percentile(latencies, 99), 3) if latencies else None,
        "health_errors": sum(1 for r in in_window if r[2] != 200),
        "target_bound_s": round(floor_cpu * n / cores, 2),
        "target_bound_first_result_s": round(full_cpu * n / cores, 2),
        "hub_cpu_s_per_launch": round(usage["hub_cpu_s"] / n, 3),
        # Where each student's time went: the launch POST (user creation), the spawn, the lab
        # page (OAuth round trip), the kernel POST, the kernel start and 1+1 over the websocket.
        "phases_s": {
            "launch": stats([s.launched - s.start for s in ok]),
            "spawn": stats([s.ready - s.launched for s in ok]),
            "lab": stats([s.lab - s.ready for s in ok]),
            "kernel_post": stats([s.kernel - s.lab for s in ok]),
            "execute": stats([s.result - s.kernel for s in ok]),
        },
        "duration_s": round(window[1] - window[0], 2),
        **usage,
    }
    summary["other_load_cores"] = round(
        max(0.0, usage["machine_busy_cpu_s"] - usage["hub_container_cpu_s"] - window[2]) / summary["duration_s"], 2)
    summary["bench_client_cpu_s"] = round(window[2], 2)
    # The same bound on the cores the other load left free (the machine may be shared).
    free_cores = max(0.25, cores - summary["other_load_cores"])
    summary["target_bound_free_cores_s"] = round(floor_cpu * n / free_cores, 2)
    summary["ratios_to_floor"] = {
        f"{what}_{p}": ratio(summary[f"{what}_s"][p], floor[f"{what}_s"])
        for what in ("ready", "first_result") for p in ("p50", "p95", "max")
    }
    summary["ratios_to_floor"]["max_ready_to_bound"] = ratio(summary["ready_s"]["max"], summary["target_bound_s"])
    summary["ratios_to_floor"]["max_ready_to_free_cores_bound"] = ratio(
        summary["ready_s"]["max"], summary["target_bound_free_cores_s"])
    summary["ratios_to_floor"]["max_first_result_to_bound"] = ratio(
        summary["first_result_s"]["max"], summary["target_bound_first_result_s"])
    summary["ratios_to_floor"]["server_cpu_mean"] = ratio(
        usage["servers_cpu_s"] / len(ok) if ok else None, floor_cpu)
    return summary


def report_text(summary, floor):
    r, f = summary["ratios_to_floor"], summary["first_result_s"]
    ready = summary["ready_s"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    mb = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    lines = [
        f"storm: {summary['users']} students, {summary['failures']} failed, {summary['duration_s']:.1f} s",
        f"floor (a student alone, median of {len(floor.get('runs', [1]))}): ready {fmt(floor['ready_s'])} s, first result {fmt(floor['first_result_s'])} s, "
        f"server start {floor['server_cpu_s']:.2f} CPU-s / {floor['server_rss_mb']:.0f} MB, "
        f"kernel {floor['kernel_cpu_s']:.2f} CPU-s / {floor['kernel_rss_mb']:.0f} MB, hub {floor['hub_cpu_s']:.2f} CPU-s",
        f"{'':18}{'p50':>8}{'p95':>8}{'max':>8}   x floor (p50/p95/max)",
        f"{'ready (s)':18}{fmt(ready['p50']):>8}{fmt(ready['p95']):>8}{fmt(ready['max']):>8}   "
        f"{fmt(r['ready_p50'])} / {fmt(r['ready_p95'])} / {fmt(r['ready_max'])}",
        f"{'first result (s)':18}{fmt(f['p50']):>8}{fmt(f['p95']):>8}{fmt(f['max']):>8}   "
        f"{fmt(r['first_result_p50'])} / {fmt(r['first_result_p95'])} / {fmt(r['first_result_max'])}",
        f"target bound floor_cpu*N/cores = {summary['target_bound_s']:.2f} s (max ready = {fmt(r['max_ready_to_bound'])} x bound); "
        f"with kernel and hub: {summary['target_bound_first_result_s']:.2f} s (max first result = {fmt(r['max_first_result_to_bound'])} x); "
        f"on the cores other load left: {summary['target_bound_free_cores_s']:.2f} s (max ready = {fmt(r['max_ready_to_free_cores_bound'])} x)",
        "phases p50/max (s): " + ", ".join(
            f"{name} {fmt(v['p50'])}/{fmt(v['max'])}" for name, v in summary["phases_s"].items()),
        f"hub: peak RSS {summary['hub_peak_rss_mb']:.0f} MB, {summary['hub_cpu_s']:.2f} CPU-s "
        f"({summary['hub_cpu_s_per_launch']:.3f} per launch); /hub/health max {fmt(summary['health_max_latency_s'])} s, "
        f"p95 {fmt(summary['health_p95_latency_s'])} s, p99 {fmt(summary.get('health_p99_latency_s'))} s, "
        f"{summary['health_errors']} errors",
        f"users: servers peak {summary['servers_peak_total_mb']:.0f} MB total "
        f"({mb(summary['server_rss_mean_mb_at_end'])} MB each at the end, {summary['servers_cpu_s']:.1f} CPU-s, "
        f"{fmt(r['server_cpu_mean'])} x floor each), kernels peak {summary['kernels_peak_total_mb']:.0f} MB total; "
        f"servers + kernels peak {summary['user_processes_peak_total_mb']:.0f} MB; container {summary['container_peak_mb']:.0f} MB",
        "idle user (server + kernel) after the storm: " + (
            f"{summary['idle_user_pss_mb']['mean']:.0f} MB PSS mean, {summary['idle_user_pss_mb']['max']:.0f} max"
            if summary.get("idle_user_pss_mb") else "-"),
        f"machine: {summary['machine_busy_cpu_s']:.1f} CPU-s busy, {summary['hub_container_cpu_s']:.1f} in the hub container, "
        f"{summary['bench_client_cpu_s']:.1f} in this client; other load {summary['other_load_cores']:.2f} cores",
    ]
    return "\n".join(lines)


def plot(path, result):
    """storm.png from a result.json: per-student timeline, /hub/health latency, memory."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    summary, floor = result["summary"], result["floor"]
    figure, (top, middle, bottom) = plt.subplots(3, 1, figsize=(10, 10), sharex=True,
                                                 gridspec_kw={"height_ratios": [3, 1.2, 1.5]})
    # One row per student, sorted by ready time: launch start -> server ready -> first result.
    order = sorted(result["students"], key=lambda s: (bool(s["error"]), s["ready_s"] or float("inf")))
    for row, student in enumerate(order):
        begin = student["start_offset_s"]
        if student["error"]:
            top.barh(row, student["ended_s"] or 0, left=begin, color="tab:red", height=0.7)
            continue
        top.barh(row, student["ready_s"], left=begin, color="tab:blue", height=0.7)
        top.barh(row, student["first_result_s"] - student["ready_s"], left=begin + student["ready_s"],
                 color="tab:orange", height=0.7)
    handles = [Patch(color="tab:blue", label="launch to server ready"),
               Patch(color="tab:orange", label="ready to first result (lab, kernel, 1+1)")]
    if summary["failures"]:
        handles.append(Patch(color="tab:red", label=f"failed ({summary['failures']})"))
    top.axvline(floor["ready_s"], linestyle=":", color="black", label=f"floor: a student alone, ready {floor['ready_s']:.1f} s")
    top.axvline(summary["target_bound_s"], linestyle="--", color="gray",
                label=f"bound floor_cpu*N/cores {summary['target_bound_s']:.1f} s")
    top.set_ylabel("student (sorted by ready time)")
    ready = summary["ready_s"]
    top.set_title(f"LTI storm: {summary['users']} students, {summary['failures']} failed; server ready p50 "
                  f"{ready['p50'] or 0:.1f} s, p95 {ready['p95'] or 0:.1f} s, max {ready['max'] or 0:.1f} s")
    top.legend(handles=handles + top.get_legend_handles_labels()[0], loc="lower right", fontsize=8)
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.grid(alpha=0.3)
    health = [h for h in result["health"] if h[0] >= -1]
    middle.plot([h[0] for h in health], [h[1] for h in health], color="tab:purple", linewidth=1)
    middle.set_ylabel("/hub/health (s)")
    middle.grid(alpha=0.3)
    floor_logins = set(floor.get("logins") or [floor.get("login")])
    samples = [s for s in result["samples"] if s["t"] >= -1]
    times = [s["t"] for s in samples]
    total = lambda table: sum(v[0] for u, v in table.items() if u not in floor_logins) / MB  # noqa: E731
    bottom.plot(times, [s["hub"][0] / MB for s in samples], label="hub RSS")
    bottom.plot(times, [total(s["servers"]) for s in samples], label="user servers RSS (total)")
    bottom.plot(times, [total(s["kernels"]) for s in samples], label="kernels RSS (total)")
    bottom.plot(times, [(s["cgroup_mem"] or 0) / MB for s in samples], label="hub container (cgroup)",
                linestyle=":", color="gray")
    bottom.set_ylabel("MB")
    bottom.set_xlabel("seconds since the storm started")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


TABLE_ROWS = [
    ("students / failed", lambda r, s: f"{s['users']} / {s['failures']}"),
    ("STARTING_AT_ONCE / CONCURRENT_SPAWN_LIMIT / START_TIMEOUT", lambda r, s: " / ".join(
        str(r["settings"].get(name, "-")) for name in ("STARTING_AT_ONCE", "CONCURRENT_SPAWN_LIMIT", "START_TIMEOUT"))),
    ("other load on the machine (cores)", lambda r, s: f"{s['other_load_cores']:.2f}"),
    ("floor: ready / first result (s)", lambda r, s: f"{r['floor']['ready_s']:.2f} / {r['floor']['first_result_s']:.2f}"),
    ("floor: server start CPU-s / RSS MB", lambda r, s: f"{r['floor']['server_cpu_s']:.2f} / {r['floor']['server_rss_mb']:.0f}"),
    ("floor: kernel CPU-s / RSS MB", lambda r, s: f"{r['floor']['kernel_cpu_s']:.2f} / {r['floor']['kernel_rss_mb']:.0f}"),
    ("ready p50 / p95 / max (s)", lambda r, s: "{p50:.1f} / {p95:.1f} / {max:.1f}".format(**s["ready_s"])),
    ("first result p50 / p95 / max (s)", lambda r, s: "{p50:.1f} / {p95:.1f} / {max:.1f}".format(**s["first_result_s"])),
    ("phases p50 / max (s): launch POST", lambda r, s: "{p50:.2f} / {max:.2f}".format(**s["phases_s"]["launch"])),
    ("  spawn (launch to ready)", lambda r, s: "{p50:.1f} / {max:.1f}".format(**s["phases_s"]["spawn"])),
    ("  lab page (OAuth)", lambda r, s: "{p50:.2f} / {max:.2f}".format(**s["phases_s"]["lab"])),
    ("  kernel POST", lambda r, s: "{p50:.2f} / {max:.2f}".format(**s["phases_s"]["kernel_post"])),
    ("  kernel start + 1+1", lambda r, s: "{p50:.2f} / {max:.2f}".format(**s["phases_s"]["execute"])),
    ("ready x floor (p50 / p95 / max)", lambda r, s: "{ready_p50} / {ready_p95} / {ready_max}".format(**s["ratios_to_floor"])),
    ("bound floor_cpu*N/cores (s); max ready / bound", lambda r, s: f"{s['target_bound_s']:.1f}; {s['ratios_to_floor']['max_ready_to_bound']}"),
    ("bound on the cores other load left (s); max ready / it", lambda r, s: "{:.1f}; {}".format(
        free_cores_bound(r), ratio(s["ready_s"]["max"], free_cores_bound(r)))),
    ("server CPU-s each, x floor", lambda r, s: f"{s['ratios_to_floor']['server_cpu_mean']}"),
    ("hub peak RSS (MB)", lambda r, s: f"{s['hub_peak_rss_mb']:.0f}"),
    ("hub CPU-s (per launch)", lambda r, s: f"{s['hub_cpu_s']:.1f} ({s['hub_cpu_s_per_launch']:.2f})"),
    ("/hub/health max / p95 (s), errors", lambda r, s: f"{s['health_max_latency_s']:.2f} / {s['health_p95_latency_s']:.2f}, {s['health_errors']}"),
    ("servers RSS peak total (MB; each)", lambda r, s: f"{s['servers_peak_total_mb']:.0f} ({s['server_rss_mean_mb_at_end']:.0f})"),
    ("kernels RSS peak total (MB; each)", lambda r, s: f"{s['kernels_peak_total_mb']:.0f} ({s['kernel_rss_mean_mb_at_end']:.0f})"),
    ("servers + kernels RSS peak (MB)", lambda r, s: f"{s['user_processes_peak_total_mb']:.0f}"),
    ("hub container memory peak (MB, cgroup)", lambda r, s: f"{s['container_peak_mb']:.0f}"),
]


def free_cores_bound(result):
    summary = result["summary"]
    free = max(0.25, result["machine"]["cores"] - summary["other_load_cores"])
    return result["floor"]["server_cpu_s"] * summary["users"] / free


def table_command(args):
    """A Markdown table of storm results, one column per run (for docs/benchmarks.md)."""
    runs = []
    for directory in args.dirs:
        with open(os.path.join(directory, "result.json")) as f:
            runs.append(json.load(f))
    header = "| | " + " | ".join(f"{r['started_at'][11:16]} ({r['image']['id'][7:19]})" for r in runs) + " |"
    lines = [header, "|---" * (len(runs) + 1) + "|"]
    for label, cell in TABLE_ROWS:
        values = []
        for r in runs:
            try:
                values.append(cell(r, r["summary"]))
            except (KeyError, TypeError, ValueError):
                values.append("-")
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    print("\n".join(lines))
    return 0


def replot_command(args):
    with open(os.path.join(args.dir, "result.json")) as f:
        result = json.load(f)
    plot(os.path.join(args.dir, "storm.png"), result)
    print(f"{args.dir}/storm.png")
    return 0


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_floor(storm, floors, sampler, token, sample_every):
    """Students alone, one after the other, the whole way, each stopped again: the floor is the
    median of each figure (a shared machine makes any single start noisy)."""
    runs = []
    for floor in floors:
        before = sampler.samples[-1]
        storm.run_student(floor)
        if floor.error:
            raise SystemExit(f"the floor launch failed, not starting the storm: {floor.error}")
        time.sleep(2 * sample_every + 0.5)  # a sample after the floor's result
        runs.append(floor_figures(floor, sampler, before))
        stop_own_server(storm.url, floor)
        wait_stopped(storm.url, [floor], token)
        time.sleep(2)  # let the machine settle before the next start
    median = lambda key: sorted(run[key] for run in runs)[len(runs) // 2]  # noqa: E731
    figures = {key: median(key) for key in runs[0] if key != "login"}
    return dict(figures, logins=[run["login"] for run in runs], runs=runs)


def storm_command(args):
    check_loopback(args.url)
    url = args.url.rstrip("/")
    compose = Compose(args.project)
    out = args.out or os.path.join(RESULTS, f"storm-{args.users}-{timestamp()}")
    os.makedirs(out, exist_ok=True)
    wait_healthy(url)
    container = compose.container()
    if not container:
        raise SystemExit(f"no hub container in compose project {args.project!r} (--project)")
    settings, image = hub_settings(compose, container)
    key, secret = passport(compose)
    admin, token = (None, None) if args.keep else admin_token(compose)
    run_id = secrets.token_hex(3)
    lesson, teacher = (None, None)
    if args.lesson_mb is not None:
        lesson, teacher = prepare_lesson(compose, url, key, secret, args.lesson_mb, run_id)
    storm = Storm(url, key, secret, args.timeout, lesson)
    students = [Student(f"bench-{run_id}-{i:03d}") for i in range(1, args.users + 1)]
    budget = args.timeout * 2 + args.ramp + 120
    sampler = Sampler(compose, args.sample_every, budget)
    health = HealthProbe(url, budget)
    # Students alone, before the storm: what every figure is compared with.
    floors = [Student(f"bench-{run_id}-floor{k}") for k in range(1, args.floor_runs + 1)]
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    since = int(time.time())
    before_machine = machine()
    idle = None
    try:
        sampler.wait_first()
        health.start()
        log(f"floor: {len(floors)} student(s) alone, one after the other ({run_id})")
        floor_result = measure_floor(storm, floors, sampler, token, args.sample_every)
        log(f"storm: {args.users} students at once" + (f", spread over {args.ramp} s" if args.ramp else ""))
        client_before = cpu_seconds()
        origin = run_storm(storm, students, args.ramp)
        end = max(s.ended or origin for s in students)
        client_cpu_s = cpu_seconds() - client_before
        time.sleep(2 * args.sample_every + 0.5)  # a sample after the last student's end
        idle = idle_memory(compose, [s.login for s in students if s.login and not s.error])
    finally:
        samples = sampler.stop()
        health_records = health.stop() if health.is_alive() else health.records
        if not args.keep:
            log("cleanup: stopping the bench's servers" + (" and deleting its hub users" if token else ""))
            cleaned = cleanup(url, floors + students + ([teacher] if teacher else []), admin, token, compose)
        else:
            cleaned = {"kept": True}
    logins = {s.login for s in students if s.login}
    usage = usage_between(sampler, origin, end, logins)
    summary = summarise(args.users, students, floor_result, health_records, usage, os.cpu_count(),
                        (origin, end, client_cpu_s))
    summary["idle_user_pss_mb"] = idle
    result = {
        "scenario": "storm", "started_at": started_at, "url": url, "project": args.project, "run_id": run_id,
        "machine": before_machine, "loadavg_after": os.getloadavg(), "image": image, "checkout": checkout(),
        "settings": settings,
        "options": {"users": args.users, "ramp_s": args.ramp, "timeout_s": args.timeout,
                    "sample_every_s": args.sample_every, "floor_runs": args.floor_runs,
                    "lesson_mb": args.lesson_mb},
        "floor": floor_result, "summary": summary, "cleanup": cleaned,
        "students": [s.record(origin) for s in students],
        "errors": [{"login": s.login or s.lti_user, "error": s.error} for s in students if s.error],
        "health": [[round(t - origin, 3), round(latency, 4), status] for t, latency, status in health_records],
        "samples": [compact_sample(s, origin, logins | set(floor_result["logins"])) for s in samples],
    }
    write_json(os.path.join(out, "result.json"), result)
    save_hub_log(compose, since, os.path.join(out, "hub.log"))
    plot(os.path.join(out, "storm.png"), result)
    print(report_text(summary, floor_result))
    for error in result["errors"][:10]:
        print(f"  failed: {error['login']}: {error['error']}")
    print(f"cleanup: {cleaned}")
    print(f"results: {out}/result.json, {out}/storm.png, {out}/hub.log")
    return 1 if summary["failures"] else 0


def idle_memory(compose, logins):
    """Proportional memory (PSS) of each student's processes (a server and one kernel, idle after
    the storm): mean and max over students, in MB. PSS shares each page among the processes
    mapping it, so it is what one more student costs."""
    if not logins:
        return None
    answer = compose.exec("python3", "-c", PSS, json.dumps(logins), timeout=600)
    per_user = [kb / 1024 for kb, processes in json.loads(answer.stdout).values() if processes]
    if not per_user:
        return None
    return {"mean": round(sum(per_user) / len(per_user), 1), "max": round(max(per_user), 1), "users": len(per_user)}


def save_hub_log(compose, since, path):
    """The hub container's log from the storm's start on: where a failure's reason is."""
    logs = compose.run("logs", "--no-color", "--since", str(since), "hub", check=False, timeout=120)
    with open(path, "w") as f:
        f.write(logs.stdout)


def compact_sample(sample, origin, logins):
    return {
        "t": round(sample["t"] - origin, 3), "busy_cpu": sample["busy_cpu"], "cgroup_mem": sample["cgroup_mem"],
        "hub": sample["hub"], "proxy": sample["proxy"], "other": sample["other"],
        "servers": {u: v for u, v in sample["servers"].items() if u in logins},
        "kernels": {u: v for u, v in sample["kernels"].items() if u in logins},
    }


# --- the sync scenario ----------------------------------------------------------------------------
