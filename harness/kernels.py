"""Run code in a user's notebook kernel the way JupyterLab does: REST to start the kernel, then
the kernel's websocket for execute requests and their output."""

import json
import time
import uuid

import websocket


def start_kernel(session):
    response = session.server_api("POST", "api/kernels", json={"name": "python3"})
    assert response.status_code == 201, (response.status_code, response.text[:300])
    return response.json()["id"]


def connect(session, kernel_id):
    url = session.stack.url.replace("http://", "ws://") + f"/user/{session.login}/api/kernels/{kernel_id}/channels"
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)
    return websocket.create_connection(url, cookie=cookies, timeout=10)


def execute(session, code, timeout=120):
    """Run `code` in a new kernel; returns (stdout text, last execution state seen).

    The state is "idle" when the code ran to the end, "restarting" or "dead" when the kernel
    died under it (the server restarts a kernel that dies)."""
    kernel_id = start_kernel(session)
    channel = connect(session, kernel_id)
    msg_id = uuid.uuid4().hex
    channel.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": session.login,
                   "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    output, state = [], None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                message = json.loads(channel.recv())
            except websocket.WebSocketTimeoutException:
                continue
            kind = message["header"]["msg_type"]
            if kind == "status":
                state = message["content"]["execution_state"]
                if state in ("restarting", "dead"):
                    return "".join(output), state
                if state == "idle" and message["parent_header"].get("msg_id") == msg_id:
                    return "".join(output), state
            elif kind == "stream" and message["parent_header"].get("msg_id") == msg_id:
                output.append(message["content"]["text"])
            elif kind == "error" and message["parent_header"].get("msg_id") == msg_id:
                output.append("\n".join(message["content"]["traceback"]))
    finally:
        channel.close()
    raise AssertionError(f"no answer from {session.login}'s kernel in {timeout}s (last state {state}; output {output})")


# Writes past the notebook, to the log: ipykernel sends what the kernel writes to its standard
# output to the notebook, but keeps a copy of the descriptor it started with (the server's
# standard output, or the kernel factory's: a pipe of the container's log, which the student
# cannot open anew). A student's code takes that copy and writes there in a loop.
FLOOD = """
import os, select, sys
out = sys.stdout._original_stdstream_copy
chunk = b"printing in a loop\\n" * 4096
for _ in range({times}):
    rest = memoryview(chunk)
    while rest:
        try:
            rest = rest[os.write(out, rest):]
        except BlockingIOError:  # the log's pipe is full for a moment
            select.select([], [out], [])
print("flooded", {times} * len(chunk))
"""


def flood_stdout(session, megabytes):
    """Write about `megabytes` MB to the kernel's standard output; returns the bytes written."""
    output, state = execute(session, FLOOD.format(times=megabytes * 1_000_000 // (19 * 4096)))
    assert state == "idle" and "flooded" in output, output
    return int(output.split("flooded")[1])


# Threads until the kernel refuses one: stops at the user's process limit (or the machine's).
THREAD_BOMB = """
import threading, time
threads = []
try:
    while len(threads) < 100_000:
        thread = threading.Thread(target=time.sleep, args=(20,), daemon=True)
        thread.start()
        threads.append(thread)
except RuntimeError as error:
    print("stopped at", len(threads), error)
"""


# The course environment (issue 15): every library a lesson may import, imported in a real
# kernel, and a matplotlib figure with a Chinese title rendered to PNG. Matplotlib warns
# "Glyph ... missing from font(s)" for any character no installed font has.
COURSE_LIBRARIES = ("numpy", "scipy", "pandas", "matplotlib", "seaborn", "statsmodels", "sklearn", "sympy",
                    "plotly", "PIL", "ipywidgets", "openpyxl", "arch")
COURSE_PYTHON = "/opt/course/bin/python"
ENVIRONMENT_PROBE = f"""
import importlib, io, warnings
for name in {COURSE_LIBRARIES!r}:
    importlib.import_module(name)
print("imported", len({COURSE_LIBRARIES!r}))
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    figure, axes = plt.subplots()
    axes.plot([1, 2, 3], [2, 1, 3])
    axes.set_title("股票价格 · Cours de la bourse")
    png = io.BytesIO()
    figure.savefig(png, format="png")
missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
print("png", png.getvalue()[:8] == b"\\x89PNG\\r\\n\\x1a\\n", "missing glyphs", missing)
import os, site, subprocess, sys
print("kernel python", sys.executable, "terminal python", os.environ["PATH"].split(":")[0] + "/python")
own = os.path.join(site.getusersitepackages(), "probe_own_package.py")  # where `pip install` puts a user's own
os.makedirs(os.path.dirname(own), exist_ok=True)
with open(own, "w") as f:
    f.write("FROM = 'home'\\n")
found = subprocess.run([sys.executable, "-c", "import probe_own_package as p; print(p.FROM)"], capture_output=True, text=True)
os.remove(own)
print("own package from", found.stdout.strip() or found.stderr[-300:])
import resource
print("kernel peak MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def check_course_environment(session):
    """Run ENVIRONMENT_PROBE in the user's kernel; AssertionError naming what failed."""
    output, state = execute(session, ENVIRONMENT_PROBE, timeout=240)
    assert state == "idle" and f"imported {len(COURSE_LIBRARIES)}" in output, output[-3000:]
    assert "png True missing glyphs []" in output, output[-3000:]
    # the course environment of its own: kernels and terminals run there, the server does not
    assert f"kernel python {COURSE_PYTHON} terminal python {COURSE_PYTHON}" in output, output[-3000:]
    assert "own package from home" in output, output[-3000:]  # a user's pip install reaches their kernels
    return output
