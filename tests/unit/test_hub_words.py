"""The hub pages' words in UI_LANGUAGE: each English phrase is one JupyterHub's pages show."""

import glob
import inspect
import os
import re

import pytest
from jupyterhub._data import DATA_FILES_PATH
from jupyterhub.handlers import login

from hubsetup import hub_pages, hub_words
from hubsetup.settings import Settings


def shown_text(text):
    return re.sub(r"\s+", " ", re.sub(r"{%.*?%}", " ", text))


def jupyterhubs_words():
    """The text of JupyterHub's templates and ours (tags removed, spaces collapsed), of its pages'
    scripts (which write some words again, as the home page after a stop) and of its login handler."""
    pages = glob.glob(os.path.join(DATA_FILES_PATH, "templates", "*.html")) \
        + glob.glob(os.path.join(hub_pages.TEMPLATES, "*.html")) \
        + glob.glob(os.path.join(DATA_FILES_PATH, "static", "js", "*.js"))
    return " ".join(shown_text(open(path, encoding="utf-8").read()) for path in pages) + inspect.getsource(login)


@pytest.mark.parametrize("language", sorted(hub_words.WORDS))
def test_every_phrase_is_one_jupyterhub_shows_and_every_language_translates_them_all(language):
    """An upgrade of JupyterHub that rewords a page shows here, not as English left on the page."""
    words = jupyterhubs_words()
    assert [phrase for phrase in hub_words.WORDS[language] if phrase not in words] == []
    assert set(hub_words.WORDS[language]) == set(hub_words.WORDS["zh_CN"])
    assert language in hub_words.HTML_LANG


@pytest.mark.parametrize("language, lang", [("zh_CN", "zh-CN"), ("fr_FR", "fr"), ("en", None)])
def test_the_pages_get_the_words_of_ui_language_and_nothing_in_english(monkeypatch, language, lang):
    monkeypatch.setattr(hub_words, "current_settings", lambda: Settings.from_env(env={"UI_LANGUAGE": language}))
    given = hub_words.hub_words(user=None)
    if lang is None:
        assert given == {}  # English: JupyterHub's own words, no script on the pages
    else:
        assert given["lang"] == lang and given["words"] is hub_words.WORDS[language]
