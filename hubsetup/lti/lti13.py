"""LTI 1.3 launches: the platform's third-party login initiation answered with an
authentication request, and the protocol-independent Launch a verified id_token makes (the
checks are lti13_validator's)."""

from urllib.parse import urlencode, urlsplit

from ..person_names import person_name
from .launch import Launch
from .lti13_roster import roster_url_of
from .lti13_scores import line_item_of, line_items_of
from .lti13_validator import CLAIM, unverified, verify_id_token
from .rules import LaunchError

LOGIN_REQUIRED = ("iss", "login_hint", "target_link_uri")


def platform_of(platforms, issuer, client_id):
    """The registration of (issuer, client id); without a client id, the issuer's only one."""
    if not isinstance(issuer, str) or not isinstance(client_id or "", str):
        raise LaunchError(400, "the issuer and client id must be strings")
    if client_id:
        platform = platforms.get((issuer, client_id))
    else:
        registered = [p for (iss, _), p in platforms.items() if iss == issuer]
        platform = registered[0] if len(registered) == 1 else None
        if len(registered) > 1:
            raise LaunchError(400, f"issuer {issuer!r} has several registrations: the login must name its client_id")
    if platform is None:
        raise LaunchError(401, f"no LTI 1.3 registration for issuer {issuer!r}"
                               + (f" and client id {client_id!r}" if client_id else "")
                               + " (hubsetup lti13 add)")
    return platform


def verify_launch(id_token, state, platforms, states, keysets):
    """(claims, platform) of a launch's id_token and state once every check passed (blocking:
    the platform's keyset may be fetched); LaunchError otherwise. A state answers one launch."""
    login = states.take(state)
    header, claims = unverified(id_token)  # read once, to find which registration checks it
    platform = platform_of(platforms, claims.get("iss"), login.client_id)
    claims = verify_id_token(id_token, header, platform, login, keysets)
    states.spend(login)
    return claims, platform


def authentication_request(args, platforms, states, launch_url, host):
    """The URL of the platform's authorization endpoint the login initiation is answered with
    (OpenID Connect, implicit flow, form_post), a new state and nonce in it."""
    for name in LOGIN_REQUIRED:
        if not args.get(name):
            raise LaunchError(400, f"LTI 1.3 login is missing {name}")
    platform = platform_of(platforms, args["iss"], args.get("client_id"))
    deployment = args.get("lti_deployment_id")
    if deployment and deployment not in platform.deployment_ids:
        raise LaunchError(401, f"deployment {deployment!r} is not registered for this platform")
    target = urlsplit(args["target_link_uri"])
    if target.netloc != host:
        raise LaunchError(400, f"target_link_uri {args['target_link_uri']!r} is not on this hub ({host})")
    state, nonce = states.begin(platform.issuer, platform.client_id)
    request = {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
        "client_id": platform.client_id, "redirect_uri": launch_url, "login_hint": args["login_hint"],
        "state": state, "nonce": nonce,
    }
    if args.get("lti_message_hint"):
        request["lti_message_hint"] = args["lti_message_hint"]
    return platform.login_url + ("&" if "?" in platform.login_url else "?") + urlencode(request)


def target_args(claims):
    """The launch's custom parameters as LTI 1.1's fields (custom_lesson, custom_assignment,
    custom_next): one lesson-delivery path for both protocols."""
    custom = claims.get(CLAIM + "custom")
    if not isinstance(custom, dict):
        return {}
    return {f"custom_{name}": str(value) for name, value in custom.items() if isinstance(name, str)}


MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
# Roles in the course (context) that teach it; institution and system roles say nothing of this
# course, and a Mentor (an observer: a parent, a tutor) does not teach it.
TEACHING = {"Instructor", "Administrator", "ContentDeveloper"}


def teaches(roles):
    """True for a course role that teaches: Instructor (and its sub-roles, TeachingAssistant...),
    Administrator or ContentDeveloper, as a membership URI or the short name LTI 1.3 allows."""
    for role in roles:
        if not isinstance(role, str):
            continue
        if role in TEACHING or role.startswith(MEMBERSHIP + "/Instructor#"):
            return True
        if role.startswith(MEMBERSHIP + "#") and role[len(MEMBERSHIP) + 1:] in TEACHING:
            return True
    return False


def resource_link_id(claims):
    link = claims.get(CLAIM + "resource_link")
    # A Deep Linking request comes from no link yet.
    return str(link.get("id")) if isinstance(link, dict) and link.get("id") else "deep-linking"


def launch_of(claims, platform):
    """The Launch of a verified id_token. The person is `sub` of this platform's registration
    (the registry's key names the issuer and client); their login comes from the name the
    platform gives them (preferred_username, else their name), else from `sub`."""
    context = claims.get(CLAIM + "context") if isinstance(claims.get(CLAIM + "context"), dict) else {}
    roles = claims.get(CLAIM + "roles") if isinstance(claims.get(CLAIM + "roles"), list) else []
    custom = target_args(claims)
    sub, line_item = claims["sub"], line_item_of(claims)
    text = lambda name: claims.get(name) if isinstance(claims.get(name), str) else ""  # noqa: E731
    return Launch(
        consumer_key=platform.key,
        lti_user=sub,
        context_id=str(context.get("id") or "lti13-" + platform.client_id),
        instructor=teaches(roles),
        resource_link_id=resource_link_id(claims),
        assignment=custom.get("custom_assignment", ""),
        score_url=line_item,
        line_items_url="" if line_item else line_items_of(claims),
        score_for=sub,
        roster_url=roster_url_of(claims),
        protocol="lti13",
        anonymous_id=sub,
        login_source=text("preferred_username") or text("name"),
        name=person_name(text("name"), text("given_name"), text("family_name"), who=f"LTI 1.3 user {sub}"),
    )
