"""The hub's authenticator: the password form for accounts.csv users, checked by PAM.

Who may log in is the registry's answer, not PAM's alone: a row removed from accounts.csv is
locked in the registry even if someone re-enables the Linux account by hand, and system
accounts (root, daemons) are never hub users.
"""

from jupyterhub.auth import PAMAuthenticator
from traitlets import Unicode

from . import courses, registry


def hub_groups(db, login):
    """JupyterHub groups for nbgrader's JupyterHubAuthPlugin: one or two per course."""
    groups = []
    for course, role in registry.roles_of(db, login).items():
        groups.append(courses.STUDENT_GROUP.format(course))
        if role == courses.INSTRUCTOR:
            groups.append(courses.INSTRUCTOR_GROUP.format(course))
    return sorted(groups)


class HubAuthenticator(PAMAuthenticator):
    registry_path = Unicode(
        help="The account registry (SQLite) that `hubsetup accounts sync` maintains."
    ).tag(config=True)

    def user_model(self, login):
        """The auth model for an active registry user, None for anyone else."""
        with registry.connect(self.registry_path) as db:
            if registry.active_user(db, login) is None:
                return None
            return {"name": login, "groups": hub_groups(db, login)}

    async def authenticate(self, handler, data):
        login = await super().authenticate(handler, data)
        if login is None:
            return None
        model = self.user_model(login)
        if model is None:
            self.log.warning("Refused %r: not an active account in accounts.csv", login)
        return model

    def check_allowed(self, username, authentication=None):
        return authentication is not None and authentication.get("name") == username

    async def refresh_user(self, user, handler=None):
        """Re-read groups from the registry, so course changes apply without a new login."""
        model = self.user_model(user.name)
        if model is None:
            return False
        return {"groups": model["groups"]}
