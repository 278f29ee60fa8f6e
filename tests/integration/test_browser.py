"""edX shows LTI components inline: the hub in an LMS iframe over HTTPS, in a real browser
(LTI 1.1 launches, and LTI 1.3's login, authentication and launch round trip).

Chromium from Debian, driven by Playwright (no browser download). The hub runs behind the
compose `https` profile's Caddy with its internal CA; the LMS page is ours, on another origin.
Certificate errors are ignored in the browser because neither CA is in its trust store; the
HTTPS itself (secure cookies, SameSite=None) is real."""

import json
import os
import re

import pytest

from harness import edx
from harness.lms_page import LmsPage
from harness.lti13_platform import Platform
from harness.stack import REPO, HubClient, run, wait_until

from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

# Next to the stack's own port, so that two test projects on one machine do not collide.
HTTPS_PORT, HTTP_PORT, LMS_PORT = (int(os.environ.get("HUBTEST_PORT", "18000")) + n for n in (443, 80, 444))
HUB = f"https://hub.localhost:{HTTPS_PORT}"
LMS = f"https://lms.localhost:{LMS_PORT}"
OTHER = f"https://other.localhost:{LMS_PORT}"
ARTIFACTS = os.path.join(REPO, "test-artifacts")
NOTEBOOK = {"cells": [{"cell_type": "code", "source": "print(6 * 7)", "metadata": {}, "outputs": [],
                       "execution_count": None}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def https_hub(stack):
    stack.reconfigure({"LMS_ORIGINS": LMS}, https={
        "DOMAIN": "hub.localhost", "LOCAL_CA": "1", "HTTPS_PORT": str(HTTPS_PORT), "HTTP_PORT": str(HTTP_PORT),
    })
    key, secret = stack.exec("hubsetup", "lti", "passport").stdout.strip().split(":")[1:]
    # The student is linked to eleve1, whose home gets the notebook the launch opens.
    stack.exec("hubsetup", "lti", "link", "--consumer", key, "--lti-user", "inline-student", "eleve1")
    stack.exec("sh", "-c", "cat > /home/eleve1/hello.ipynb && chown eleve1: /home/eleve1/hello.ipynb",
               input=json.dumps(NOTEBOOK))
    yield key, secret
    stack.reconfigure({})


@pytest.fixture(scope="module")
def lms(https_hub, tmp_path_factory):
    key, secret = https_hub
    page = LmsPage(str(tmp_path_factory.mktemp("lms")), LMS_PORT, HUB + "/hub/lti/launch").start()

    def launch(user="inline-student"):
        return edx.launch_params(HUB + "/hub/lti/launch", key, secret, username=user,
                                 custom={"next": "/hub/user-redirect/lab/tree/hello.ipynb"})

    page.launches["/unit1"] = launch
    yield page
    page.stop()


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def profile_browser(playwright, tmp_path):
    """A browser whose user chose "Allow third-party cookies" in its settings (this Chromium
    blocks them by default), as a student's browser set up for an LMS that embeds tools."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}})
    )
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
        ignore_https_errors=True, viewport={"width": 1280, "height": 900},
    )
    yield context
    context.close()


@pytest.fixture
def private_browser(playwright):
    """Chromium as it comes: third-party cookies and storage blocked inside frames."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    yield context
    browser.close()


def run_first_cell(page, frame=None):
    """Click into the notebook's first cell, run it with Shift+Enter, wait for its output."""
    frame = frame or page
    try:
        # Wait for the kernel: a Shift+Enter before it is connected is not run.
        frame.wait_for_selector(".jp-StatusBar-Widget:has-text('| Idle')", timeout=60_000)
        frame.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
        page.keyboard.press("Shift+Enter")
        frame.wait_for_selector(".jp-OutputArea-output:has-text('42')", timeout=60_000)
    except Exception:
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, "run-cell-failed.png"))
        raise


def lab_frame(page, timeout=120_000):
    frame = page.frame(name="lti-frame")
    frame.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout)
    return frame


def test_jupyterlab_runs_a_cell_inside_the_lms_iframe(stack, lms, profile_browser):
    context = profile_browser
    page = context.new_page()
    headers = {}
    page.on("response", lambda r: headers.setdefault(r.url.split("?")[0], r.headers))
    page.goto(LMS + "/unit1")
    frame = lab_frame(page)
    assert "/user/eleve1/lab/tree/hello.ipynb" in frame.url
    run_first_cell(page, frame)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "lms-iframe-jupyterlab.png"))
    hub_csp = headers[HUB + "/hub/lti/launch"]["content-security-policy"]
    lab_csp = headers[HUB + "/user/eleve1/lab/tree/hello.ipynb"]["content-security-policy"]
    with open(os.path.join(ARTIFACTS, "frame-headers.txt"), "w") as f:
        f.write(f"hub /hub/lti/launch: {hub_csp}\nuser server /user/eleve1/lab: {lab_csp}\n")
    for csp in (hub_csp, lab_csp):
        assert f"frame-ancestors 'self' {LMS}" in csp and "*" not in csp
    cookies = {c["name"]: c for c in context.cookies(HUB)}
    assert cookies["jupyterhub-session-id"]["sameSite"] == "None" and cookies["jupyterhub-session-id"]["secure"]


def test_blocked_third_party_cookies_get_a_new_tab_button(stack, lms, private_browser):
    page = private_browser.new_page()
    page.goto(LMS + "/unit1")
    frame = page.frame(name="lti-frame")
    button = frame.wait_for_selector("#new-tab", state="visible", timeout=60_000)
    page.screenshot(path=os.path.join(ARTIFACTS, "lms-iframe-blocked-cookies.png"))
    with private_browser.expect_page() as new_tab:
        button.click()
    tab = new_tab.value
    tab.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    assert "/user/eleve1/lab/tree/hello.ipynb" in tab.url
    run_first_cell(tab)
    # the one-time link cannot be used again
    again = private_browser.new_page()
    again.goto(tab.url.split("/user/")[0] + "/hub/lti/resume?token=" + "x" * 43)
    again.wait_for_selector("#refused", state="visible", timeout=15_000)


def test_a_new_tab_link_sent_to_another_browser_logs_no_one_in(stack, lms, private_browser, playwright):
    """Login CSRF: whoever launches copies the "Open in a new tab" link and sends it to someone
    else, whose browser must not end up logged in as the launcher."""
    page = private_browser.new_page()
    page.goto(LMS + "/unit1")
    frame = page.frame(name="lti-frame")
    link = frame.wait_for_selector("#new-tab", state="visible", timeout=60_000).get_attribute("href")
    token = link.split("token=", 1)[1]
    proof = re.search(r'hubResumeProof: "([^"]+)"', frame.content()).group(1)
    victim_browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        victim = victim_browser.new_context(ignore_https_errors=True)
        tab = victim.new_page()
        tab.goto(HUB + link)
        tab.wait_for_selector("#refused", state="visible", timeout=15_000)
        assert "/hub/lti/resume" in tab.url
        # The launcher knows token and proof (both are in their page), but a form that another
        # page makes the victim's browser post lacks the victim's XSRF field: refused.
        forged = victim.new_page()
        with forged.expect_response(lambda response: "/hub/lti/resume" in response.url) as answer:
            forged.set_content(
                f'<form method="post" action="{HUB}/hub/lti/resume"><input name="token" value="{token}">'
                f'<input name="proof" value="{proof}"></form><script>document.forms[0].submit()</script>')
        assert answer.value.status == 403
        assert "jupyterhub-hub-login" not in {cookie["name"] for cookie in victim.cookies(HUB)}
    finally:
        victim_browser.close()


def test_through_the_https_front_every_cookie_is_secure_and_the_hub_sees_the_client(stack, lms, profile_browser):
    """HTTPS that is HTTPS: Secure cookies (the hub's, its XSRF cookie, the user server's),
    HSTS, no plain-HTTP port open beside it, and the browser's address in the hub's log."""
    page = profile_browser.new_page()
    login = page.goto(HUB + "/hub/login")
    assert login.headers["strict-transport-security"].startswith("max-age=")
    page.fill("input[name=username]", "eleve1")
    page.fill("input[name=password]", "eleve1pw")
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/user/eleve1/**", timeout=120_000)
    # every path's cookies (cookies(HUB) gives only those of "/")
    cookies = [cookie for cookie in profile_browser.cookies() if cookie["domain"].endswith("hub.localhost")]
    names = {cookie["name"] for cookie in cookies}
    assert {"jupyterhub-hub-login", "jupyterhub-session-id", "_xsrf", "jupyterhub-user-eleve1"} <= names, names
    assert [cookie["name"] for cookie in cookies if not cookie["secure"]] == []
    hub = stack.compose("ps", "-q", "hub").stdout.strip()
    published = run("docker", "port", hub, "8000/tcp").stdout.split()
    assert published and all(address.startswith("127.0.0.1:") for address in published), published
    proxy = stack.compose("ps", "-q", "proxy").stdout.strip()
    proxy_address = run("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                        proxy).stdout.split()
    logged = re.findall(r"POST /hub/login\S* -> \S+ \(eleve1@([0-9a-f.:]+)\)", stack.logs())
    assert logged and not set(logged) & set(proxy_address), (logged, proxy_address)


def test_other_origin_cannot_frame_the_hub(stack, lms, profile_browser):
    context = profile_browser
    page = context.new_page()
    refusals, launches = [], []
    page.on("console", lambda message: refusals.append(message.text) if "frame-ancestors" in message.text else None)
    page.on("response", lambda r: launches.append(r.status) if r.url.endswith("/hub/lti/launch") else None)
    page.goto(OTHER + "/unit1")
    page.wait_for_timeout(5000)
    frame = page.frame(name="lti-frame")
    assert frame.url.startswith("chrome-error://") or not frame.query_selector(".jp-LabShell")
    assert any(f"frame-ancestors 'self' {LMS}" in text for text in refusals), refusals
    # and the launch form itself, posted from a site that is not the LMS, logs no one in
    assert launches == [403], launches


LESSON_CONTEXT = "course-v1:DemoX+WEB101+2026_T1"
LESSON_COURSE = "course-v1-demox-web101-2026_t1"


def lesson_notebook(source):
    return dict(NOTEBOOK, cells=[dict(NOTEBOOK["cells"][0], source=source)])


@pytest.fixture(scope="module")
def lesson_units(stack, https_hub, lms):
    """Two edX units, each an LTI component naming its lesson; the course's teacher (made by an
    instructor's launch) writes the materials as themself and the admin command publishes them."""
    key, secret = https_hub
    for unit, lesson in (("/lesson-unit1", "lesson1.ipynb"), ("/lesson-unit2", "lesson2.ipynb")):
        lms.launches[unit] = lambda lesson=lesson: edx.launch_params(
            HUB + "/hub/lti/launch", key, secret, username="web-student", context_id=LESSON_CONTEXT,
            custom={"lesson": lesson})
    teacher = edx.launch_params(stack.url + "/hub/lti/launch", key, secret, username="web-teacher",
                                roles="Instructor", context_id=LESSON_CONTEXT)
    assert HubClient(stack, "web-teacher").launch(teacher).status_code == 302
    materials = f"/srv/nbgrader/courses/{LESSON_COURSE}/materials"

    def put(path, content):
        text = content if isinstance(content, str) else json.dumps(content)
        stack.exec("sh", "-c", f"mkdir -p $(dirname {materials}/{path}) && cat > {materials}/{path}",
                   user="web-teacher", input=text)

    def publish():
        return stack.exec("hubsetup", "materials", "publish", "--course", LESSON_COURSE).stdout

    put("lesson1.ipynb", lesson_notebook("print(6 * 7)"))
    assert "published 1 file(s)" in publish()
    return put, publish


def run_cell_until(page, frame, text, attempts=4):
    """Run the first cell of the notebook in view (JupyterLab also reopens earlier tabs) until
    its output shows `text`. The status bar can still say the previous tab's kernel is idle
    while this one starts, and a Shift+Enter before it is connected is not run: so again."""
    shown = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    frame.wait_for_selector(".jp-StatusBar-Widget:has-text('| Idle')", timeout=60_000)
    for attempt in range(attempts):
        # the visible one: while a tab opens, the one it replaces may not be hidden yet
        frame.locator(f"{shown} .jp-Cell .jp-InputArea-editor >> visible=true").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            frame.wait_for_selector(f"{shown} .jp-OutputArea-output:has-text('{text}')", timeout=20_000)
            return
        except Exception:
            if attempt == attempts - 1:
                os.makedirs(ARTIFACTS, exist_ok=True)
                page.screenshot(path=os.path.join(ARTIFACTS, "run-cell-until-failed.png"))
                outputs = frame.locator(f"{shown} .jp-OutputArea-output").all_inner_texts()
                raise AssertionError(f"no {text!r} after {attempts} runs; outputs: {outputs}") from None


def test_edx_units_open_their_lessons_and_the_students_edit_survives_the_teachers_update(
        stack, lms, lesson_units, profile_browser):
    put, publish = lesson_units
    page = profile_browser.new_page()
    page.goto(LMS + "/lesson-unit1")
    frame = lab_frame(page)
    assert f"/user/web-student/lab/tree/{LESSON_COURSE}/lesson1.ipynb" in frame.url
    run_first_cell(page, frame)  # the teacher's cell: 42
    # the student makes the cell their own and saves
    frame.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
    page.keyboard.press("Control+A")
    page.keyboard.type("print('my answer', 6 * 7)")
    page.keyboard.press("Control+S")
    home = f"/home/web-student/{LESSON_COURSE}"
    wait_until(lambda: "my answer" in stack.exec("cat", f"{home}/lesson1.ipynb").stdout,
               "the student's edit was not saved", timeout=30)
    # the teacher updates lesson 1 and adds lesson 2 with its data file
    put("lesson1.ipynb", lesson_notebook("print('v2')"))
    put("lesson2.ipynb", lesson_notebook("import csv\nrows = list(csv.DictReader(open('data/prices.csv')))\n"
                                         "print('mean', sum(float(r['price']) for r in rows) / len(rows))"))
    put("data/prices.csv", "day,price\n1,10\n2,14\n")
    assert "published 3 file(s)" in publish()
    page.goto(LMS + "/lesson-unit2")
    frame = lab_frame(page)
    assert f"/user/web-student/lab/tree/{LESSON_COURSE}/lesson2.ipynb" in frame.url
    run_cell_until(page, frame, "mean 12.0")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "lms-lesson2.png"))
    assert "my answer" in stack.exec("cat", f"{home}/lesson1.ipynb").stdout
    assert stack.exec("test", "-f", f"{home}/data/prices.csv", check=False).returncode == 0


LTI13_KEYSET_PORT = 9996
LTI13_SCRIPT, LTI13_KEYSET = "/srv/browser-lti13-platform.py", "/srv/browser-lti13-jwks.json"


@pytest.fixture(scope="module")
def lti13_units(stack, https_hub, lms):
    """The LMS as an LTI 1.3 platform: its unit pages post the login initiation into their
    frame (or the whole page), and its authentication URL (on the LMS's own origin, where the
    browser goes) answers with the id_token posted back in the same place. Its keyset is served
    in the hub's container, where the hub fetches it."""
    platform = Platform(LMS, port=LTI13_KEYSET_PORT)
    platform.login_url = LMS + "/auth"
    stack.compose("cp", os.path.join(REPO, "harness", "lti13_platform.py"), f"hub:{LTI13_SCRIPT}")
    stack.exec("sh", "-c", f"cat > {LTI13_KEYSET}", input=json.dumps(platform.keyset()))
    stack.compose("exec", "-d", "hub", "/opt/venv/bin/python3", LTI13_SCRIPT, str(LTI13_KEYSET_PORT), LTI13_KEYSET)
    stack.exec("hubsetup", "lti13", "add", *platform.registration())

    def unit(target):
        return lambda: (HUB + "/hub/lti13/login", platform.login(HUB + "/hub/lti13/launch", login_hint="inline13"),
                        target)

    def auth(state, nonce, redirect_uri, login_hint, **request):
        assert redirect_uri == HUB + "/hub/lti13/launch" and request["client_id"] == platform.client_id
        claims = platform.claims(nonce, sub="sub-" + login_hint, preferred_username=login_hint,
                                 custom={"next": "/hub/user-redirect/lab"})
        return redirect_uri, {"id_token": platform.id_token(claims), "state": state}, "_self"

    lms.launches.update({"/unit13": unit("lti-frame"), "/unit13-window": unit("_self"), "/auth": auth})
    yield platform
    stack.exec("pkill", "-f", LTI13_SCRIPT, check=False)
    stack.exec("hubsetup", "lti13", "remove", "--issuer", platform.issuer, "--client-id", platform.client_id)


def test_an_lti13_launch_opens_jupyterlab_inside_the_lms_iframe(stack, lti13_units, profile_browser):
    page = profile_browser.new_page()
    page.goto(LMS + "/unit13")
    frame = page.frame(name="lti-frame")
    frame.wait_for_selector(".jp-LabShell", timeout=120_000)
    assert frame.url.startswith(HUB + "/user/inline13/lab"), frame.url
    page.screenshot(path=os.path.join(ARTIFACTS, "lms-iframe-lti13.png"))
    cookies = {c["name"]: c for c in profile_browser.cookies(HUB)}
    assert cookies["jupyterhub-session-id"]["sameSite"] == "None" and cookies["jupyterhub-session-id"]["secure"]


def test_an_lti13_launch_in_a_window_of_its_own(stack, lti13_units, private_browser):
    """As an LMS's "open in a new window": first-party all the way, so even a browser that
    blocks third-party cookies gets JupyterLab."""
    page = private_browser.new_page()
    page.goto(LMS + "/unit13-window")
    page.wait_for_selector(".jp-LabShell", timeout=120_000)
    assert page.url.startswith(HUB + "/user/inline13/lab"), page.url
