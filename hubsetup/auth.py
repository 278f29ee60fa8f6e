"""The hub's authenticator: the password form for accounts.csv users (PAM) and LTI 1.1 launches
at /hub/lti/launch, in one class.

Who may log in is the registry's answer, not PAM's alone: a row removed from accounts.csv is
locked in the registry even if someone re-enables the Linux account by hand, and system
accounts (root, daemons) are never hub users. An LTI launch maps to its own users, never to an
accounts.csv or system account unless an admin linked them (`hubsetup lti link`).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from jupyterhub.auth import PAMAuthenticator
from jupyterhub.handlers.login import LoginHandler
from ltiauthenticator.lti11.auth import LTI11Authenticator
from ltiauthenticator.lti11.handlers import LTI11AuthenticateHandler, LTI11ConfigHandler
from ltiauthenticator.lti11.validator import LTI11LaunchValidator
from ltiauthenticator.utils import convert_request_to_dict
from tornado.web import HTTPError

from . import courses, framed_launch, lti, registry
from .launch import Launch, apply_launch
from .settings import current as current_settings

# The validator keeps used nonces per timestamp in a cache of 35 entries, while it accepts
# timestamps 30 s either side of now (61 possible seconds): a busy minute could evict a nonce
# that is still replayable. Room for every second of the window, kept past its end.
LTI11LaunchValidator.nonces = type(LTI11LaunchValidator.nonces)(maxsize=4096, ttl=65.0)

# Creating users rewrites /etc and makes homes: one at a time, and off the hub's event loop.
_system_changes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubsetup-users")


def hub_groups(db, login):
    """JupyterHub groups for nbgrader's JupyterHubAuthPlugin: one or two per course."""
    groups = []
    for course, role in registry.roles_of(db, login).items():
        groups.append(courses.STUDENT_GROUP.format(course))
        if role == courses.INSTRUCTOR:
            groups.append(courses.INSTRUCTOR_GROUP.format(course))
    return sorted(groups)


class LaunchHandler(LTI11AuthenticateHandler):
    """POST /hub/lti/launch: check `next` before anything else, then log in and redirect."""

    async def post(self):
        args = convert_request_to_dict(self.request.arguments)
        requested = args.get("custom_next") or self.get_argument("next", "")
        try:
            next_url = lti.safe_next(requested, self.base_url, self.request.host)
        except lti.LaunchError as error:
            self.log.warning("LTI launch refused: %s", error)
            raise HTTPError(error.status, str(error))
        user = await self.login_user()
        if user is None:
            raise HTTPError(403, "LTI launch not allowed")
        target = next_url or self.get_next_url(user)
        if framed_launch.is_framed(self.request):
            self.write(framed_launch.framed_page(self.base_url, user.name, target))
        else:
            self.redirect(target)


class HubAuthenticator(LTI11Authenticator, PAMAuthenticator):
    # The login page is the password form; LTI launches arrive by POST from the LMS.
    auto_login = False
    login_service = ""

    @property
    def settings(self):
        return current_settings()

    def login_url(self, base_url):
        return PAMAuthenticator.login_url(self, base_url)

    def get_handlers(self, app):
        return [
            ("/login", LoginHandler),
            ("/lti/launch", LaunchHandler),
            ("/lti11/config", LTI11ConfigHandler),
            ("/lti/session", framed_launch.SessionCheckHandler),
            ("/lti/resume", framed_launch.ResumeHandler),
        ]

    def user_model(self, login):
        """The auth model for an active registry user, None for anyone else."""
        with registry.connect(self.settings.registry_path, write=False) as db:
            if registry.active_user(db, login) is None:
                return None
            return {"name": login, "groups": hub_groups(db, login)}

    async def authenticate(self, handler, data=None):
        if isinstance(handler, LTI11AuthenticateHandler):
            return await self.authenticate_launch(handler)
        login = await PAMAuthenticator.authenticate(self, handler, data)
        if login is None:
            return None
        model = self.user_model(login)
        if model is None:
            self.log.warning("Refused %r: not an active account in accounts.csv", login)
        return model

    async def authenticate_launch(self, handler):
        """Check, verify (ltiauthenticator's validator), then map the launch to a hub user."""
        args = convert_request_to_dict(handler.request.arguments)
        try:
            lti.check_launch(args)
        except lti.LaunchError as error:
            self.log.warning("LTI launch refused: %s", error)
            raise HTTPError(error.status, str(error))
        # Re-read the consumers at each launch: one added with `hubsetup lti` needs no restart.
        self.consumers = lti.all_consumers(self.settings.state_dir, self.settings.lti_consumers)
        try:
            verified = await LTI11Authenticator.authenticate(self, handler, None)
        except HTTPError as error:
            self.log.warning("LTI launch refused: %s (%s)", error.log_message, handler.request.remote_ip)
            raise
        launch_args = verified["auth_state"]
        launch = Launch(
            consumer_key=args["oauth_consumer_key"],
            lti_user=launch_args.get(self.username_key) or launch_args["user_id"],
            course=lti.course_name(launch_args.get("context_id") or "lti-" + args["oauth_consumer_key"]),
            instructor=lti.is_instructor(launch_args.get("roles", "")),
            resource_link_id=launch_args["resource_link_id"],
            assignment=launch_args.get("custom_assignment", ""),
            outcome_service_url=launch_args.get("lis_outcome_service_url", ""),
            result_sourcedid=launch_args.get("lis_result_sourcedid", ""),
        )
        login = await asyncio.get_running_loop().run_in_executor(
            _system_changes, apply_launch, self.settings, launch
        )
        model = self.user_model(login)
        if model is None:
            raise HTTPError(403, f"account {login!r} is locked")
        model["auth_state"] = dict(launch_args, hub_course=launch.course)
        self.log.info(
            "LTI launch: %s as %s in %s", login, "instructor" if launch.instructor else "student", launch.course
        )
        return model

    def check_allowed(self, username, authentication=None):
        return authentication is not None and authentication.get("name") == username

    async def refresh_user(self, user, handler=None):
        """Re-read groups from the registry, so course changes apply without a new login."""
        model = self.user_model(user.name)
        if model is None:
            return False
        return {"groups": model["groups"]}
