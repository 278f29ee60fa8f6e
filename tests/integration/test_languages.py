"""In Debian's Chromium (a real browser logging in through the hub's form): notebooks saved as
HTML and PDF from JupyterLab's File menu, and UI_LANGUAGE: the hub's sign-in page and JupyterLab
in Chinese or French for every user. Screenshots are kept in test-artifacts/."""

import os

import pytest

from harness.stack import REPO, HubClient
from hubsetup import hub_words, lab_menus

from . import nbgrader_cycle

from .browser import CHROMIUM, CHROMIUM_ARGS, log_in, needs_chromium

ARTIFACTS = os.path.join(REPO, "test-artifacts")
pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser():
    os.makedirs(ARTIFACTS, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def restores_the_language(stack):
    yield
    stack.reconfigure({})


def exported_notebook():
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "id": "title", "metadata": {},
             "source": "# 股票价格 · Cours de la bourse\n\n$$C = S N(d_1) - K e^{-rT} N(d_2)$$"},
            {"cell_type": "code", "id": "printed", "execution_count": 1, "metadata": {}, "source": "print(6 * 7)",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": "42\n"}]},
        ],
    }


def test_a_student_saves_a_notebook_as_html_and_pdf_from_the_file_menu(stack, browser, tmp_path):
    student = HubClient(stack, "eleve1")
    assert student.log_in("eleve1pw")
    student.start_server()
    nbgrader_cycle.put_contents(student, "export-me.ipynb",
                                {"type": "notebook", "format": "json", "content": exported_notebook()})
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    try:
        log_in(page, stack, "eleve1", "eleve1pw", next_path="/user/eleve1/lab/tree/export-me.ipynb")
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell", timeout=120_000)
        export = '.lm-Menu-item[data-command="notebook:export-to-format"]'

        def open_the_export_menu():
            for _ in range(3):  # Escape closes one level of menu at a time
                if not page.locator(".lm-Menu").count():
                    break
                page.keyboard.press("Escape")
            page.click('.lm-MenuBar-item:has-text("File")')
            page.hover('.lm-Menu-item:has-text("Save and Export Notebook As")')
            page.wait_for_selector(export)

        open_the_export_menu()
        formats = page.locator(f"{export} .lm-Menu-itemLabel").all_inner_texts()
        # nbconvert's LaTeX PDF and its Playwright webpdf would only fail here: one PDF, that works
        assert "HTML" in formats and formats.count("PDF") == 1 and "Webpdf" not in formats, formats
        # JupyterLab opens each export in a new tab; Chromium reports its download on that tab or
        # on the one that opened it
        downloads = []
        page.on("download", lambda download: downloads.append(download))
        context.on("page", lambda tab: tab.on("download", lambda download: downloads.append(download)))
        for label, check in (("HTML", lambda data: b"42" in data and "股票价格".encode() in data),
                             # MathJax (the image's own files) draws the formula in a serif font
                             # the page's text does not use: raw TeX would stay in DejaVu Sans
                             ("PDF", lambda data: data.startswith(b"%PDF-") and b"DejaVuSerif" in data)):
            downloads.clear()
            open_the_export_menu()
            page.click(f'{export}:has(.lm-Menu-itemLabel:text-is("{label}"))')
            accept = page.locator(".jp-Dialog .jp-mod-accept")  # HTML asks first: "Sanitize HTML output"
            for _ in range(480):
                if downloads:
                    break
                if accept.count():
                    accept.click()
                page.wait_for_timeout(250)
            assert downloads, f"no {label} download within 120 s"
            saved = tmp_path / downloads[0].suggested_filename
            downloads[0].save_as(saved)
            data = saved.read_bytes()
            assert saved.name == "export-me." + label.lower() and check(data), (label, saved.name, data[:200])
    finally:
        context.close()


@pytest.mark.parametrize("language, html_lang, sign_in, password, file_menu, kernel_menu, start_again, submissions", [
    ("zh_CN", "zh-CN", "登录", "密码：", "文件", "内核", "启动我的服务器", "我的提交"),
    ("fr_FR", "fr", "Connexion", "Mot de passe :", "Fichier", "Noyau", "Démarrer mon serveur", "Vos rendus"),
])
def test_the_hub_and_jupyterlab_speak_the_schools_language(stack, browser, restores_the_language, language, html_lang,
                                                           sign_in, password, file_menu, kernel_menu, start_again,
                                                           submissions):
    stack.reconfigure({"UI_LANGUAGE": language})  # a new hub container: every server starts anew
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(stack.url + "/hub/login")
        assert page.get_attribute("html", "lang") == html_lang
        assert page.inner_text("#login-main h1") == sign_in
        assert page.inner_text('label[for="password_input"]') == password
        assert page.get_attribute("#login_submit", "value") == sign_in
        page.screenshot(path=os.path.join(ARTIFACTS, f"hub-login-{language}.png"))
        log_in(page, stack, "eleve1", "eleve1pw")
        page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=120_000)
        labels = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        page.screenshot(path=os.path.join(ARTIFACTS, f"jupyterlab-{language}.png"))
        assert labels[0] == file_menu and kernel_menu in labels, labels
        assert {"zh_CN.utf8", "fr_FR.utf8"} <= set(stack.exec("locale", "-a").stdout.split())
        # File → the submissions page, in a new tab, through the hub's sign-in (OAuth), in the language
        entry = lab_menus.file_menu("student", language)[lab_menus.MENU_PLUGIN]["menus"][0]["items"][1]
        page.locator(".lm-MenuBar-itemLabel", has_text=file_menu).click()
        with context.expect_page() as opened:
            page.locator(".lm-Menu-itemLabel", has_text=entry["args"]["text"]).click()
        status = opened.value
        status.wait_for_selector("h1", timeout=60_000)
        assert status.url == stack.url + "/services/grading/" and status.inner_text("h1") == submissions
        assert status.get_attribute("html", "lang") == html_lang
        status.close()
        # the hub's home page: after "Stop My Server" JupyterHub's script writes its button anew
        page.goto(stack.url + "/hub/home")
        assert page.inner_text("#submissions-link") == hub_words.WORDS[language]["Submissions"]
        page.click("#stop")
        page.wait_for_function("text => document.querySelector('#start').innerText.trim() === text", arg=start_again,
                               timeout=60_000)
    finally:
        context.close()
