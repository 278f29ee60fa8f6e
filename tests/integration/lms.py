"""A test LMS beside the hub: its LTI 1.1 outcome service (harness/lms_outcomes.py) run inside
the hub's container on its loopback, where the pushes go, and launches signed as edX signs
them."""

import json
import os

from harness import edx
from harness.stack import REPO

OUTCOMES = "http://127.0.0.1:9999/outcomes"
# Outside /tmp, which is a tmpfs in the hub's container: `docker cp` cannot write into one.
LMS_SCRIPT = "/srv/lms_outcomes.py"


def start(stack, record):
    """The outcome service, recording what it is sent in `record`; returns (key, secret) of
    the hub's consumer."""
    key, secret = stack.exec("hubsetup", "lti", "passport").stdout.strip().split(":")[1:]
    stack.compose("cp", os.path.join(REPO, "harness", "lms_outcomes.py"), f"hub:{LMS_SCRIPT}")
    stack.compose("exec", "-d", "hub", "/opt/venv/bin/python3", LMS_SCRIPT, "9999", key, secret, record)
    return key, secret


def stop(stack):
    stack.exec("pkill", "-f", "lms_outcomes.py", check=False)


def recorded(stack, record):
    result = stack.exec("cat", record, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {"scores": {}, "requests": 0}


def launch(stack, client, lms, name, context, roles="Student,Learner", assignment="ps1", sourcedid=None,
           username=None, full_name=None):
    """The session of login `name`, launched into `context` as edX user `username` (`name` if None)."""
    key, secret = lms
    custom = {"assignment": assignment} if assignment else {}
    params = edx.launch_params(stack.url + "/hub/lti/launch", key, secret, username=username or name, roles=roles,
                               context_id=context, custom=custom, lis_outcome_service_url=OUTCOMES,
                               lis_result_sourcedid=sourcedid or f"{context}:block-ps1:{name}", full_name=full_name)
    session = client(name)
    assert session.launch(params).status_code == 302
    session.start_server()
    return session
