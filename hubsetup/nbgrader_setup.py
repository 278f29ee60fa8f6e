"""nbgrader settings for user servers and nbgrader commands, from the environment.

The hub's spawner sets NBGRADER_COURSE_ID/NBGRADER_COURSE_ROOT for instructors and
NBGRADER_EXCHANGE for everyone; run by hand (`nbgrader ... ` in a terminal) the same values
apply, so the formgrader and the command line agree.
"""

import os

from . import notebook_html
from .grading import AUTOGRADE_PREPROCESSORS
from .exchange import FACTORY

DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"


def configure(c, env=None):
    env = os.environ if env is None else env
    c.Exchange.root = env.get("NBGRADER_EXCHANGE", DEFAULT_EXCHANGE)
    # Two courses may both have a "ps1": keep their exchange folders apart.
    c.Exchange.path_includes_course = True
    # Feedback shows students' notebooks to their teachers and to them: without their scripts.
    notebook_html.configure(c)
    c.Autograde.autograde_preprocessors = AUTOGRADE_PREPROCESSORS
    # The exchange root is root's alone (hubsetup makes each course's folders).
    for setting, exchange_class in FACTORY.items():
        setattr(c.ExchangeFactory, setting, exchange_class)
    course = env.get("NBGRADER_COURSE_ID")
    if course:
        c.CourseDirectory.course_id = course
        c.CourseDirectory.root = env["NBGRADER_COURSE_ROOT"]
        # Co-instructors share the course directory and its exchange folders through the
        # course's instructor group (setgid folders made by hubsetup).
        c.CourseDirectory.groupshared = True
    # Only inside a hub-started server: outside it the plugin has no hub to ask and breaks
    # the command line.
    if env.get("JUPYTERHUB_API_URL"):
        c.Exchange.assignment_dir = env.get("HOME", ".")
        c.Authenticator.plugin_class = "nbgrader.auth.jupyterhub.JupyterHubAuthPlugin"
