"""Debian's Chromium for browser tests, driven by Playwright (never a downloaded browser)."""

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-gpu", "--disable-quic"]


def log_in(page, stack, login, password, next_path=""):
    """Sign in through the hub's form, as a person would, and wait for the user's JupyterLab."""
    page.goto(stack.url + "/hub/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("#username_input", login)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{login}/lab**", timeout=120_000)


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium (apt-get install chromium)"
)
