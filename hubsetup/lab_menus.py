"""The entries the hub adds to JupyterLab's File menu, labelled in UI_LANGUAGE: *Submissions…*
for everyone (the grading service's page) and *Course materials…* for teachers.

JupyterLab takes them from `labconfig/default_setting_overrides.json` in a folder of
JUPYTER_CONFIG_PATH; the spawner adds the folder of the user's role and the hub's language.
JupyterLab does not merge lists from several settings files, so each folder holds its role's
whole menu. The folders are written into the image when it is built
(`python -m hubsetup.lab_menus ROOT`).
"""

import json
import os
import sys

from .courses import INSTRUCTOR, STUDENT
from .settings import UI_LANGUAGES

ROOT = "/etc/jupyter/lab-menus"
MENU_PLUGIN = "@jupyterlab/mainmenu-extension:plugin"
RANK = 89  # after File's own entries, before Log Out

# (roles that see it, the page it opens, its label in each language)
ENTRIES = [
    ((STUDENT, INSTRUCTOR), "/services/grading/",
     {"en": "Submissions…", "fr_FR": "Mes rendus…", "zh_CN": "我的提交…"}),
    ((INSTRUCTOR,), "/hub/user-redirect/open/materials",
     {"en": "Course materials…", "fr_FR": "Supports de cours…", "zh_CN": "课程资料…"}),
]


def folder(role, language):
    return os.path.join(ROOT, language, role)


def file_menu(role, language):
    """JupyterLab's main menu settings with our File entries for `role` in `language`."""
    items = [{"type": "separator", "rank": RANK}]
    for position, (roles, url, labels) in enumerate(ENTRIES):
        if role in roles:
            items.append({"command": "help:open", "rank": RANK + position,
                          "args": {"text": labels[language], "url": url, "newBrowserTab": True}})
    return {MENU_PLUGIN: {"menus": [{"id": "jp-mainmenu-file", "items": items}]}}


def write(root):
    for language in UI_LANGUAGES:
        for role in (STUDENT, INSTRUCTOR):
            labconfig = os.path.join(root, language, role, "labconfig")
            os.makedirs(labconfig, exist_ok=True)
            with open(os.path.join(labconfig, "default_setting_overrides.json"), "w", encoding="utf-8") as out:
                json.dump(file_menu(role, language), out, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else ROOT)
