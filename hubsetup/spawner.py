"""Single-user servers as local processes, with the environment each role needs."""

import os

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Integer, Unicode

from . import courses, registry

ROLE_CONFIG_ROOT = "/etc/jupyter/roles"


class HubSpawner(LocalProcessSpawner):
    umask = Integer(
        0o007,
        help="umask of user servers: files are shared with the file's group (a co-instructor "
        "in a course directory; only the user themself in their own home).",
    ).tag(config=True)

    registry_path = Unicode(help="The account registry written by `hubsetup accounts sync`.").tag(
        config=True
    )

    courses_root = Unicode("/srv/nbgrader/courses", help="Where course directories live.").tag(
        config=True
    )

    def make_preexec_fn(self, name):
        become_user = set_user_setuid(name)
        umask = self.umask

        def preexec():
            become_user()
            os.umask(umask)

        return preexec

    def role_environment(self):
        """JUPYTER_CONFIG_PATH of the user's role (what UI they see) and their course.

        Instructors get the course tools for their first course; students get the assignment
        list. The course list and groups come from the registry at every start."""
        with registry.connect(self.registry_path, write=False) as db:
            roles = registry.roles_of(db, self.user.name)
        taught = sorted(course for course, role in roles.items() if role == courses.INSTRUCTOR)
        role = courses.INSTRUCTOR if taught else courses.STUDENT
        env = {"JUPYTER_CONFIG_PATH": os.path.join(ROLE_CONFIG_ROOT, role)}
        if taught:
            env["NBGRADER_COURSE_ID"] = taught[0]
            env["NBGRADER_COURSE_ROOT"] = os.path.join(self.courses_root, taught[0])
        return env

    def get_env(self):
        env = super().get_env()
        env.update(self.role_environment())
        return env
