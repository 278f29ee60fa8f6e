"""Work the hub does for a course inside its instructors' files, done as one of them: a child
process (`python3 -I -m <module>`) with that instructor's uid, the course's instructor group
and no other group unless asked, umask 007, working directory `/`, and none of the hub's environment. Root
never opens a file an instructor can replace."""

import json
import os
import subprocess
import sys

from .provision import home_of

TIMEOUT = 600


def run(settings, instructor, gid, module, request, timeout=TIMEOUT, extra_groups=()):
    """Run `module` as `instructor` (login, uid) in group `gid` (and `extra_groups`), with
    `request` as JSON on its standard input; returns its standard output, or raises ValueError
    with its last error line."""
    login, uid = instructor
    result = subprocess.run(
        [sys.executable, "-I", "-m", module],
        input=json.dumps(request), capture_output=True, text=True, timeout=timeout,
        user=uid, group=gid, extra_groups=list(extra_groups), umask=0o007, cwd="/",
        # Only what nbgrader needs (PATH: it runs alembic by name); none of the hub's secrets.
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home_of(settings, login), "LANG": "C.UTF-8"},
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValueError(f"{module}, run as {login}, exited with {result.returncode}: {last}")
    return result.stdout.strip()
