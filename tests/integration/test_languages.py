"""UI_LANGUAGE: JupyterLab in Chinese or French for every user, in Debian's Chromium (a real
browser logging in through the hub's form); screenshots kept in test-artifacts/."""

import os

import pytest

from harness.stack import REPO

from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

ARTIFACTS = os.path.join(REPO, "test-artifacts")
pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def restores_the_language(stack):
    yield
    stack.reconfigure({})


@pytest.mark.parametrize("language, file_menu, kernel_menu", [
    ("zh_CN", "文件", "内核"),
    ("fr_FR", "Fichier", "Noyau"),
])
def test_jupyterlab_speaks_the_schools_language(stack, browser, restores_the_language, language, file_menu,
                                                kernel_menu):
    stack.reconfigure({"UI_LANGUAGE": language})  # a new hub container: every server starts anew
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(stack.url + "/hub/login")
        page.fill("#username_input", "eleve1")
        page.fill("#password_input", "eleve1pw")
        page.click("#login_submit")
        page.wait_for_url("**/user/eleve1/lab**", timeout=120_000)
        page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=120_000)
        labels = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, f"jupyterlab-{language}.png"))
        assert labels[0] == file_menu and kernel_menu in labels, labels
        assert {"zh_CN.utf8", "fr_FR.utf8"} <= set(stack.exec("locale", "-a").stdout.split())
    finally:
        context.close()
