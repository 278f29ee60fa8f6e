"""A real git server for lesson tests: `git daemon` in the hub's container, serving a bare
repository with one lesson notebook (never the internet)."""

import json

ROOT = "/srv/git"
PID_FILE = "/run/git-daemon.pid"


def lesson_notebook(source):
    return {"cells": [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def serve_lessons(stack, listen, source="print('from git')"):
    """Start the daemon on `listen` (127.0.0.1 for servers in the hub's container, 0.0.0.0 for
    users' containers, which reach it by the hub's service name); returns the repository's path
    below the daemon's root, `lessons.git`."""
    script = f"""set -e
rm -rf {ROOT} /tmp/lessons-work && mkdir -p {ROOT}
git init -q --bare -b main {ROOT}/lessons.git
git init -q -b main /tmp/lessons-work && cd /tmp/lessons-work
cat > lesson1.ipynb
git add lesson1.ipynb && git -c user.name=t -c user.email=t@example.org commit -q -m lesson1
git push -q {ROOT}/lessons.git main
"""
    stack.exec("sh", "-c", script, input=json.dumps(lesson_notebook(source)))
    stack.compose("exec", "-d", "hub", "git", "daemon", f"--base-path={ROOT}", "--export-all", "--reuseaddr",
                  f"--listen={listen}", "--port=9418", f"--pid-file={PID_FILE}", ROOT)
    return "lessons.git"


def stop(stack):
    stack.exec("sh", "-c", f"kill $(cat {PID_FILE})", check=False)


def pull(session, repo, folder):
    """What nbgitpuller's git-pull page does in the browser: its API's event stream, to the end."""
    params = {"repo": repo, "branch": "main", "targetpath": folder}
    with session.server_api("GET", "git-pull/api", params=params, stream=True) as events:
        return "".join(chunk.decode() for chunk in events.iter_content(None))
