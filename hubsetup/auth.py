"""The hub's authenticator: the password form for accounts.csv users (PAM) and LTI 1.1 launches
at /hub/lti/launch, in one class; what a launch means is hubsetup.lti's.

Who may log in is the registry's answer, not PAM's alone: a row removed from accounts.csv is
locked in the registry even if someone re-enables the Linux account by hand, and system
accounts (root, daemons) are never hub users. An LTI launch maps to its own users, never to an
accounts.csv or system account unless an admin linked them (`hubsetup lti link`).
"""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from jupyterhub.auth import PAMAuthenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.handlers.login import LoginHandler
from ltiauthenticator.lti11.auth import LTI11Authenticator
from ltiauthenticator.lti11.handlers import LTI11AuthenticateHandler, LTI11ConfigHandler
from ltiauthenticator.utils import convert_request_to_dict
from tornado.web import HTTPError

from . import as_instructor, courses, gradebook_names, registry
from .lti import (framed_launch, lti11, lti11_validator, lti13, lti13_deep_linking, lti13_keys, lti13_platforms,
                  lti13_validator, rules)
from .lti.consumers import all_consumers
from .lti.launch import apply_launch
from .keys import ensure_secret
from .settings import current as current_settings

LTI13_STATE_KEY = "lti13-states.key"  # signs LTI 1.3 login states (hubsetup.lti.lti13_validator)

# Creating users rewrites /etc and makes homes: one at a time, and off the hub's event loop.
_system_changes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubsetup-users")
# Students' names reach their courses' gradebooks a few seconds after their launches.
_gradebook_names = gradebook_names.LaunchBatcher(current_settings)


def hub_groups(db, login):
    """JupyterHub groups for nbgrader's JupyterHubAuthPlugin: one or two per course."""
    groups = []
    for course, role in registry.roles_of(db, login).items():
        groups.append(courses.STUDENT_GROUP.format(course))
        if role == courses.INSTRUCTOR:
            groups.append(courses.INSTRUCTOR_GROUP.format(course))
    return sorted(groups)


def refusal(handler, what, error):
    """The HTTP error of a refused launch, its reason logged (quoted: it may carry what the
    request sent) with the client's address."""
    handler.log.warning("%s refused: %r (%s)", what, str(error), handler.request.remote_ip)
    return HTTPError(error.status, str(error))


class LaunchHandler(LTI11AuthenticateHandler):
    """POST /hub/lti/launch: check `next` before anything else, then log in and redirect."""

    async def post(self):
        self.check_posted_from_lms()
        args = convert_request_to_dict(self.request.arguments)
        await self.log_in_and_open(args, args.get("custom_next") or self.get_argument("next", ""))

    def check_posted_from_lms(self):
        """Before any work: a launch posted from a site that is not one of the LMSs is refused."""
        try:
            rules.check_origin(self.request.headers.get("Origin"), current_settings().frame_origins,
                               f"{self.request.protocol}://{self.request.host}")
        except rules.LaunchError as error:
            raise refusal(self, "LTI launch", error)

    async def log_in_and_open(self, args, requested):
        """Every protocol's end of a launch (its origin checked first): its target checked, the
        user logged in (the authenticator's work), then sent to the lesson, the assignment or
        `next`."""
        try:
            next_url = rules.safe_next(requested, self.base_url, self.request.host)
            rules.check_target_fields(args)
        except rules.LaunchError as error:
            raise refusal(self, "LTI launch", error)
        user = await self.login_user()
        if user is None:
            raise HTTPError(403, "LTI launch not allowed")
        course = ((await user.get_auth_state()) or {}).get("hub_course", "")
        target = rules.launch_target(args, self.hub.base_url, course, next_url) or self.get_next_url(user)
        if framed_launch.is_framed(self.request):
            self.write(framed_launch.framed_page(self.base_url, user.name, target))
        else:
            self.redirect(target)


class LTI13LaunchHandler(LaunchHandler):
    """POST /hub/lti13/launch: the platform's form post of the id_token and state, verified
    before anything else; then as an LTI 1.1 launch."""

    verified = None  # (Launch, claims, platform) once the id_token passed every check

    async def post(self):
        self.check_posted_from_lms()
        try:
            self.verified = await asyncio.get_running_loop().run_in_executor(
                None, self.authenticator.verify_lti13, self.get_body_argument("id_token", ""),
                self.get_body_argument("state", ""))
        except rules.LaunchError as error:
            raise refusal(self, "LTI 1.3 launch", error)
        launch, claims, platform = self.verified
        if claims[lti13_validator.CLAIM + "message_type"] == lti13_validator.DEEP_LINKING_REQUEST:
            return await self.offer_content(launch, claims, platform)
        args = lti13.target_args(claims)
        await self.log_in_and_open(args, args.get("custom_next", ""))

    async def offer_content(self, launch, claims, platform):
        """A Deep Linking request: the teacher logged in, then shown what of their course the
        link may open."""
        if not launch.instructor:
            raise HTTPError(403, "only a course's teachers add content to it from the LMS (Deep Linking)")
        user = await self.login_user()
        if user is None:
            raise HTTPError(403, "LTI launch not allowed")
        course = ((await user.get_auth_state()) or {}).get("hub_course", "")
        found = await asyncio.get_running_loop().run_in_executor(None, self.authenticator.deep_link_choices,
                                                                 user.name, course)
        request = lti13_deep_linking.Request(platform, claims[lti13_validator.CLAIM + "deployment_id"],
                                             lti13_validator.deep_linking_settings(claims), course,
                                             lti13_deep_linking.offered(found))
        key = self.authenticator.lti13_deep_links.put(request)
        self.finish(lti13_deep_linking.picker_page(key, request, lti13_url(self, "deep-link")))


class LTI13DeepLinkHandler(BaseHandler):
    """POST /hub/lti13/deep-link: the teacher's choice, answered with the signed response the
    browser posts back to the LMS."""

    def check_xsrf_cookie(self):
        return  # the request's one-time key, which only the picker page had, is the proof

    def post(self):
        try:
            request = self.authenticator.lti13_deep_links.take(self.get_body_argument("request", ""))
            kind, name = self.get_body_argument("kind", ""), self.get_body_argument("name", "")
            points = lti13_deep_linking.chosen(request, kind, name)
        except rules.LaunchError as error:
            raise refusal(self, "LTI 1.3 Deep Linking", error)
        item = lti13_deep_linking.content_item(kind, name, points, lti13_url(self, "launch"),
                                               request.settings.get("accept_lineitem") is not False)
        token = lti13_deep_linking.response_token(current_settings().state_dir, request, item)
        self.log.info("LTI 1.3 Deep Linking: %s %s of %s linked in %s", kind, name, request.course,
                      request.platform.issuer)
        self.finish(lti13_deep_linking.response_page(request.settings["deep_link_return_url"], token))


class LTI13LoginHandler(BaseHandler):
    """GET or POST /hub/lti13/login: the platform's third-party login initiation, answered with
    a redirect to its authorization endpoint (the URL its registration gave)."""

    def check_xsrf_cookie(self):
        return  # a form posted from the LMS: cross-site by design

    def get(self):
        self.begin()

    def post(self):
        self.begin()

    def begin(self):
        args = {name: self.get_argument(name, "") for name in
                ("iss", "login_hint", "target_link_uri", "client_id", "lti_deployment_id", "lti_message_hint")}
        try:
            url = lti13.authentication_request(args, self.authenticator.lti13_platforms(),
                                               self.authenticator.lti13_states, lti13_url(self, "launch"),
                                               self.request.host)
        except rules.LaunchError as error:
            raise refusal(self, "LTI 1.3 login", error)
        self.redirect(url)


def lti13_url(handler, name):
    scheme = handler.authenticator.get_uri_scheme(handler.request)
    return f"{scheme}://{handler.request.host}{handler.hub.base_url}lti13/{name}"


class LTI13KeysetHandler(BaseHandler):
    """GET /hub/lti13/jwks: the hub's public keys, which platforms check its signatures with."""

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(lti13_keys.published_keyset(current_settings().state_dir)))


class LTI13ConfigHandler(BaseHandler):
    """GET /hub/lti13/config: every URL an LMS admin pastes into the tool's registration."""

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "title": "Teaching hub",
            "oidc_initiation_url": lti13_url(self, "login"),
            "target_link_uri": lti13_url(self, "launch"),
            "redirect_uris": [lti13_url(self, "launch")],
            "jwks_uri": lti13_url(self, "jwks"),
            "deep_linking_url": lti13_url(self, "launch"),
        }, indent=2))


class HubAuthenticator(LTI11Authenticator, PAMAuthenticator):
    # The login page is the password form; LTI launches arrive by POST from the LMS.
    auto_login = False
    login_service = ""

    @property
    def settings(self):
        return current_settings()

    @property
    def nonces(self):
        """Nonces of the signed launches of the last minute, for the whole hub process (made at
        the first launch, not when the module is imported)."""
        if not hasattr(self, "_nonces"):
            self._nonces = lti11_validator.NonceMemory()
        return self._nonces

    def login_url(self, base_url):
        return PAMAuthenticator.login_url(self, base_url)

    def get_handlers(self, app):
        return [
            ("/login", LoginHandler),
            ("/lti/launch", LaunchHandler),
            ("/lti11/config", LTI11ConfigHandler),
            ("/lti/session", framed_launch.SessionCheckHandler),
            ("/lti/resume", framed_launch.ResumeHandler),
            ("/lti13/login", LTI13LoginHandler),
            ("/lti13/launch", LTI13LaunchHandler),
            ("/lti13/jwks", LTI13KeysetHandler),
            ("/lti13/config", LTI13ConfigHandler),
            ("/lti13/deep-link", LTI13DeepLinkHandler),
        ]

    def user_model(self, login):
        """The auth model for an active registry user, None for anyone else."""
        with registry.connect(self.settings.registry_path, write=False) as db:
            if registry.active_user(db, login) is None:
                return None
            return {"name": login, "groups": hub_groups(db, login)}

    @property
    def lti13_states(self):
        """Logins begun and not finished, for the whole hub process."""
        if not hasattr(self, "_lti13_states"):
            self._lti13_states = lti13_validator.LoginStates(ensure_secret(self.settings.state_dir, LTI13_STATE_KEY))
        return self._lti13_states

    @property
    def lti13_keysets(self):
        if not hasattr(self, "_lti13_keysets"):
            self._lti13_keysets = lti13_validator.Keysets()
        return self._lti13_keysets

    @property
    def lti13_deep_links(self):
        """Deep Linking requests waiting for the teacher's choice."""
        if not hasattr(self, "_lti13_deep_links"):
            self._lti13_deep_links = lti13_deep_linking.Requests()
        return self._lti13_deep_links

    def deep_link_choices(self, login, course):
        """What the teacher may link, read as them (their course's files are theirs)."""
        with registry.connect(self.settings.registry_path, write=False) as db:
            uid = registry.active_user(db, login)["uid"]
            groups = registry.courses(db)[course]
        output = as_instructor.run(
            self.settings, (login, uid), groups["instructor_gid"], "hubsetup.lti.deep_link_choices",
            {"course": course, "exchange": self.settings.exchange_root,
             "course_dir": courses.course_dir(self.settings, course)},
            timeout=120, extra_groups=[groups["student_gid"]])
        return json.loads(output.splitlines()[-1])

    def lti13_platforms(self):
        # Re-read at each login: one added with `hubsetup lti13 add` needs no restart.
        return lti13_platforms.load_platforms(self.settings.state_dir)

    def verify_lti13(self, id_token, state):
        """(Launch, claims, platform) of an id_token that passed every check (blocking: the
        platform's keyset may be fetched); LaunchError otherwise."""
        claims, platform = lti13.verify_launch(id_token, state, self.lti13_platforms(), self.lti13_states,
                                               self.lti13_keysets)
        return lti13.launch_of(claims, platform), claims, platform

    async def authenticate(self, handler, data=None):
        if isinstance(handler, LTI13LaunchHandler):
            launch = handler.verified[0]
            return await self.log_in_launch(launch, {"lti13_sub": launch.lti_user, "issuer": launch.consumer_key})
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
        """Check, verify the signature, then map the launch to a hub user."""
        args = convert_request_to_dict(handler.request.arguments)
        # Re-read the consumers at each launch: one added with `hubsetup lti` needs no restart.
        consumers = all_consumers(self.settings.state_dir, self.settings.lti_consumers)
        launch_url = f"{self.get_uri_scheme(handler.request)}://{handler.request.host}{handler.request.uri}"
        try:
            lti11.check_launch(args)
            consumer_key = lti11_validator.verify(launch_url, args, consumers, self.nonces, handler.request.headers)
        except rules.LaunchError as error:
            self.log.warning("LTI launch refused: %s (%s)", error, handler.request.remote_ip)
            raise HTTPError(error.status, str(error))
        launch_args = {name: value for name, value in args.items() if not name.startswith("oauth_")}
        return await self.log_in_launch(lti11.launch_of(launch_args, consumer_key, self.username_key), launch_args)

    async def log_in_launch(self, launch, auth_state):
        """The auth model of a verified launch's user, made or found with their course."""
        login, course = await asyncio.get_running_loop().run_in_executor(
            _system_changes, apply_launch, self.settings, launch
        )
        model = self.user_model(login)
        if model is None:
            raise HTTPError(403, f"account {login!r} is locked")
        _gradebook_names.add(course)
        model["auth_state"] = dict(auth_state, hub_course=course)
        self.log.info(
            "LTI launch (%s): %s as %s in %s (%s)", launch.protocol, login,
            "instructor" if launch.instructor else "student", course, launch.consumer_key,
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
