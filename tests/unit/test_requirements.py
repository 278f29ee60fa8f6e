"""The two environments' locks: a package both hold is pinned alike (ipywidgets runs in the
kernel, its JupyterLab side in the server: two versions would not talk)."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PIN = re.compile(r"([A-Za-z0-9_.-]+)==(\S+)")


def pins(name):
    with open(os.path.join(REPO, name)) as lock:
        found = (PIN.match(line) for line in lock)
        return {match[1].lower().replace("_", "-"): match[2] for match in found if match}


def test_a_package_in_both_environments_has_one_version():
    server, course = pins("requirements.txt"), pins("course-requirements.txt")
    shared = set(server) & set(course)
    assert {"ipywidgets", "jupyterlab-widgets", "widgetsnbextension", "traitlets"} <= shared
    assert {name: (server[name], course[name]) for name in shared if server[name] != course[name]} == {}
