"""JupyterLab's File menu entries of each role, in each UI_LANGUAGE, as the image holds them."""

import json
import os

import pytest

from hubsetup import lab_menus
from hubsetup.settings import UI_LANGUAGES


def labels(settings):
    [menu] = settings[lab_menus.MENU_PLUGIN]["menus"]
    return [(item["args"]["text"], item["args"]["url"]) for item in menu["items"] if "args" in item]


@pytest.mark.parametrize("language", sorted(UI_LANGUAGES))
def test_students_get_submissions_and_teachers_also_course_materials_in_every_language(language):
    student = labels(lab_menus.file_menu("student", language))
    teacher = labels(lab_menus.file_menu("instructor", language))
    assert [url for _, url in student] == ["/services/grading/"]
    assert [url for _, url in teacher] == ["/services/grading/", "/hub/user-redirect/open/materials"]
    assert all(text.endswith("…") for text, _ in teacher)
    if language != "en":  # nothing left in English
        english = labels(lab_menus.file_menu("instructor", "en"))
        assert not set(teacher) & set(english)


def test_each_folder_holds_its_roles_whole_menu_in_its_language(tmp_path, monkeypatch):
    """JupyterLab reading them is the browser test's (test_languages)."""
    monkeypatch.setattr(lab_menus, "ROOT", str(tmp_path))
    lab_menus.write(str(tmp_path))
    for language in UI_LANGUAGES:
        for role in ("student", "instructor"):
            path = os.path.join(lab_menus.folder(role, language), "labconfig", "default_setting_overrides.json")
            with open(path, encoding="utf-8") as written:
                assert json.load(written) == lab_menus.file_menu(role, language)
    assert "我的提交…" in open(path.replace("fr_FR", "zh_CN"), encoding="utf-8").read()  # not escaped
