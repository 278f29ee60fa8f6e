"""The compose stack, built from this checkout and started once per test session."""

import os
import shutil

import pytest

from harness.stack import REPO, HubClient, Stack

PROJECT = os.environ.get("HUBTEST_PROJECT", "hubtest")
PORT = int(os.environ.get("HUBTEST_PORT", "18000"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    accounts = tmp_path_factory.mktemp("site") / "accounts.csv"
    shutil.copy(os.path.join(REPO, "accounts.csv"), accounts)
    stack = Stack(PROJECT, PORT, str(accounts))
    stack.write_settings({})
    stack.compose("down", "-v", "--remove-orphans", check=False)
    stack.compose("build", timeout=1800)
    stack.compose("up", "-d")
    try:
        stack.wait_healthy()
        yield stack
    finally:
        if os.environ.get("HUBTEST_KEEP") != "1":
            stack.profiles = ["--profile", "https"]  # whatever was started, take it all down
            stack.compose("down", "-v", "--remove-orphans", check=False)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Print the hub's logs under any failing integration test."""
    outcome = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    stack = funcargs.get("stack") or funcargs.get("hub")
    if report.failed and stack is not None:
        report.sections.append(("hub logs", stack.logs()))


@pytest.fixture
def client(stack):
    clients = []

    def make(login):
        clients.append(HubClient(stack, login))
        return clients[-1]

    yield make
    for session in clients:
        session.close()
