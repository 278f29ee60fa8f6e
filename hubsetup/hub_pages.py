"""What the hub's own pages show beyond JupyterHub's: the user's real name beside their login,
through JupyterHub's template_vars and a page.html that extends its own (no fork).

JupyterHub's admin page is a compiled React application that lists logins only; `hubsetup
status` shows names beside logins instead.
"""

import os

from . import registry
from .settings import current as current_settings

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


def shown_name(user):
    """The real name of the page's user, or '' (JupyterHub calls this for every page)."""
    if user is None:
        return ""
    with registry.connect(current_settings().registry_path, write=False) as db:
        name, _ = registry.name_of(db, user.name)
    return name.shown

