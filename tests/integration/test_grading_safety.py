"""A student's submission never acts as the teacher who grades it.

A real nbgrader cycle between real users. The student's notebook carries markup that runs
script in an unsanitised page (an `<img onerror>` in a markdown cell, the same in an HTML
output); the teacher opens it in the formgrader in Debian's Chromium, and the feedback the
student fetches is checked too. Another student, from a shell, forges a submission in the first
one's name and submits a link to the teacher's solution instead of a notebook."""

import os
import re
import urllib.parse

import pytest

from harness.stack import REPO, HubClient

from . import nbgrader_cycle
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = needs_chromium

COURSE, ASSIGNMENT = "xss101", "ps1"
ACCOUNTS = f"profx;profxpw;1;{COURSE}\nelevex;elevexpw;0;{COURSE}\nelevey;eleveypw;0;{COURSE}\n"
INBOUND = f"/srv/nbgrader/exchange/{COURSE}/inbound"
SOURCE = f"/srv/nbgrader/courses/{COURSE}/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
SUBMITTED = f"/srv/nbgrader/courses/{COURSE}/submitted"
FORGERIES = f"""
cd {INBOUND}
forged="elevex+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged"
mkdir "$forged" && echo '{{"cells": [], "metadata": {{}}, "nbformat": 4, "nbformat_minor": 5}}' > "$forged/{ASSIGNMENT}.ipynb"
echo "2099-01-01 00:00:00.000000 UTC" > "$forged/timestamp.txt"
linked="elevey+{ASSIGNMENT}+2026-01-01 00:00:00.000000 UTC+linked"
mkdir "$linked" && ln -s {SOURCE} "$linked/{ASSIGNMENT}.ipynb"
echo "2026-01-01 00:00:00.000000 UTC" > "$linked/timestamp.txt"
"""
PAYLOAD = "window.__owned = 1; document.title = 'owned'"
MARKDOWN = f'## My answer\n\n<img src="no-such-image" onerror="{PAYLOAD}">\n'
OUTPUT_CODE = "from IPython.display import HTML\nHTML(" + repr(f'<img src="nope" onerror="{PAYLOAD}">') + ")"


@pytest.fixture(scope="module")
def graded_submission(stack):
    stack.write_accounts(ACCOUNTS)
    stack.sync()
    try:
        teacher, student = HubClient(stack, "profx"), HubClient(stack, "elevex")
        for session, password in ((teacher, "profxpw"), (student, "elevexpw")):
            assert session.log_in(password)
            session.start_server()
        nbgrader_cycle.teacher_creates_and_releases(teacher, COURSE, ASSIGNMENT)
        nbgrader_cycle.assignment_action(student, "fetch", COURSE, ASSIGNMENT)
        path = f"{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        notebook = nbgrader_cycle.ok(student.server_api("GET", f"api/contents/{path}"))["content"]
        notebook["cells"][0]["source"] = nbgrader_cycle.RIGHT
        notebook["cells"] += [
            {"cell_type": "markdown", "metadata": {}, "source": MARKDOWN},
            {"cell_type": "code", "metadata": {}, "source": OUTPUT_CODE, "outputs": [], "execution_count": None},
        ]
        nbgrader_cycle.put_contents(student, path, {"type": "notebook", "format": "json", "content": notebook})
        nbgrader_cycle.assignment_action(student, "submit", COURSE, ASSIGNMENT)
        stack.exec("sh", "-c", FORGERIES, user="elevey")
        nbgrader_cycle.teacher_grades_and_returns_feedback(teacher, ASSIGNMENT, ["elevex"])
        nbgrader_cycle.assignment_action(student, "fetch_feedback", COURSE, ASSIGNMENT)
        submitted = nbgrader_cycle.ok(teacher.server_api("GET", f"formgrader/api/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}"))
        yield submitted[0]["id"]
    finally:
        stack.write_accounts(open(os.path.join(REPO, "accounts.csv")).read())
        stack.sync()


def test_a_submissions_script_does_not_run_in_the_teachers_formgrader(stack, graded_submission):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(stack.url + "/hub/login")
            page.fill("input[name=username]", "profx")
            page.fill("input[name=password]", "profxpw")
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url("**/user/profx/**", timeout=60_000)
            page.goto(f"{stack.url}/user/profx/formgrader/submissions/{graded_submission}/")
            page.wait_for_selector("h2:has-text('My answer')", timeout=60_000)
            page.wait_for_timeout(2000)  # time for the broken images to fail
            os.makedirs(os.path.join(REPO, "test-artifacts"), exist_ok=True)
            page.screenshot(path=os.path.join(REPO, "test-artifacts", "formgrader-submission.png"), full_page=True)
            assert page.evaluate("window.__owned") is None and page.title() != "owned"
            assert page.locator("img[src='no-such-image']").count() == 1, "the markup is kept, its script dropped"
            assert page.locator("img[src='nope']").count() == 1, "so is the HTML output's"
        finally:
            browser.close()


INJECT = """() => {
    const img = document.createElement("img");
    img.setAttribute("onerror", "window.__injected = 1");
    img.src = "no-such-image-either";
    document.body.appendChild(img);
}"""


def test_the_formgrader_runs_its_own_scripts_and_no_markup_that_got_past_the_cleaner(stack, graded_submission):
    """The second wall: should the cleaner ever let an event handler through, the page's policy
    does not run it, while nbgrader's own inline scripts and buttons still work."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            refused = []
            page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
            page.goto(stack.url + "/hub/login")
            page.fill("input[name=username]", "profx")
            page.fill("input[name=password]", "profxpw")
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url("**/user/profx/**", timeout=60_000)
            # Without the policy (JupyterLab's page) the injection runs: the control.
            page.evaluate(INJECT)
            page.wait_for_function("window.__injected === 1", timeout=10_000)
            answer = page.goto(f"{stack.url}/user/profx/formgrader/submissions/{graded_submission}/")
            assert "script-src" in answer.headers["content-security-policy"]
            page.wait_for_selector("h2:has-text('My answer')", timeout=60_000)
            assert page.evaluate("typeof submission_id") == "string", "the template's inline script ran"
            assert not refused, refused
            page.click("span.name-hidden")  # an onclick of nbgrader's template, allowed by its hash
            page.wait_for_timeout(500)
            assert not refused, refused
            page.evaluate(INJECT)
            page.wait_for_timeout(1500)
            assert page.evaluate("window.__injected") is None
            assert any("inline event handler" in text for text in refused), refused
        finally:
            browser.close()


def test_feedback_carries_no_script_of_the_submission(stack, graded_submission):
    found = stack.exec("sh", "-c", f"cat /home/elevex/{COURSE}/{ASSIGNMENT}/feedback/*/{ASSIGNMENT}.html").stdout
    assert "My answer" in found
    # the code cell's source shows the payload as text (escaped); no element carries it
    assert not re.search(r"<[^>]*\sonerror\s*=", found, re.I)
    # and opened from the student's server, a feedback page is sandboxed to an origin of its own
    student = HubClient(stack, "elevex")
    assert student.log_in("elevexpw")
    student.start_server()
    listed = stack.exec("sh", "-c", f"cd /home/elevex && ls {COURSE}/{ASSIGNMENT}/feedback/*/{ASSIGNMENT}.html").stdout.splitlines()
    page = student.server_api("GET", "files/" + urllib.parse.quote(listed[0]))
    assert page.status_code == 200, (listed, page.status_code, page.url)
    assert "sandbox allow-scripts" in page.headers["Content-Security-Policy"]


def test_a_submission_forged_in_another_students_name_is_not_collected(stack, graded_submission):
    collected = stack.exec("cat", f"{SUBMITTED}/elevex/{ASSIGNMENT}/{ASSIGNMENT}.ipynb").stdout
    assert "return a + b" in collected, "the student's own, not the newer forgery"


def test_a_link_in_a_submission_does_not_read_the_teachers_files(stack, graded_submission):
    found = stack.exec("sh", "-c", f"ls -A {SUBMITTED}/elevey/{ASSIGNMENT}/ 2>/dev/null; "
                       f"cat {SUBMITTED}/elevey/{ASSIGNMENT}/{ASSIGNMENT}.ipynb 2>/dev/null", check=False).stdout
    assert "BEGIN SOLUTION" not in found and "ps1.ipynb" not in found
