"""LTI 1.3 Deep Linking: a teacher adding the hub to a course in the LMS picks one of the
course's lesson notebooks or nbgrader assignments on a hub page, and the hub answers the LMS
with a signed LtiDeepLinkingResponse: a link whose custom parameters open that lesson or
assignment (as `hubsetup lti params` writes them) and, for an assignment, a line item with its
points, so that its scores come back (lti13_scores).

The page's choice is posted with the one-time key of its request (kept by the hub, as a
login's state is): no cookie is needed inside the LMS's frame, and nothing else can be chosen
than what the page offered.
"""

import html
import time
import uuid
from dataclasses import dataclass, field

import jwt

from . import lti13_keys
from .lti13_validator import CLAIM, OneTime
from .rules import LaunchError

RESPONSE_TYPE = "LtiDeepLinkingResponse"
SESSION_SECONDS = 1800  # a teacher may take their time choosing


@dataclass
class Request:
    """A Deep Linking request waiting for the teacher's choice."""

    platform: object
    deployment_id: str
    settings: dict
    course: str
    choices: dict = field(default_factory=dict)  # (kind, name) -> points or None
    expires: float = 0.0


class Requests(OneTime):
    what = "Deep Linking request"

    def __init__(self, **kwargs):
        super().__init__(lifetime=SESSION_SECONDS, **kwargs)


def offered(found):
    """{(kind, name): points} of what deep_link_choices found."""
    choices = {("lesson", lesson): None for lesson in found["lessons"]}
    choices.update({("assignment", name): points for name, points in found["assignments"]})
    return choices


def content_item(kind, name, points, launch_url, accept_line_item=True):
    item = {"type": "ltiResourceLink", "title": name.rsplit("/", 1)[-1].removesuffix(".ipynb") if kind == "lesson"
            else name, "url": launch_url, "custom": {kind: name}}
    if kind == "assignment" and accept_line_item:
        item["lineItem"] = {"scoreMaximum": points or 1, "label": name, "resourceId": name, "tag": "nbgrader"}
    return item


def response_token(state_dir, request, item, clock=time.time):
    """The signed LtiDeepLinkingResponse for one content item."""
    now = int(clock())
    claims = {
        "iss": request.platform.client_id, "aud": request.platform.issuer, "iat": now, "exp": now + 300,
        "nonce": uuid.uuid4().hex,
        CLAIM + "deployment_id": request.deployment_id,
        CLAIM + "message_type": RESPONSE_TYPE, CLAIM + "version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [item],
    }
    if "data" in request.settings:
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = request.settings["data"]
    return jwt.encode(claims, lti13_keys.tool_key(state_dir), algorithm="RS256",
                      headers={"kid": lti13_keys.public_jwk(state_dir)["kid"]})


def chosen(request, kind, name):
    if (kind, name) not in request.choices:
        raise LaunchError(400, f"{kind} {name!r} is not one this page offered")
    return request.choices[(kind, name)]


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:50em}} li{{margin:.3em 0}}
button{{padding:.3em .9em}}</style></head>
<body>{body}</body></html>"""


def picker_page(key, request, action):
    def form(kind, name, points):
        label = html.escape(name) + (f" ({points:g} points)" if points else "")
        return (f'<li><form method="post" action="{html.escape(action)}">'
                f'<input type="hidden" name="request" value="{html.escape(key)}">'
                f'<input type="hidden" name="kind" value="{kind}"><input type="hidden" name="name" '
                f'value="{html.escape(name)}"><button type="submit">{label}</button></form></li>')

    sections = []
    for kind, heading in (("lesson", "Lessons (published materials)"), ("assignment", "nbgrader assignments")):
        items = [form(k, name, points) for (k, name), points in sorted(request.choices.items()) if k == kind]
        sections.append(f"<h2>{heading}</h2>" + (f'<ul id="{kind}s">{"".join(items)}</ul>' if items else
                                                  "<p>None yet.</p>"))
    body = (f"<h1>Add to the LMS: {html.escape(request.course)}</h1><p>Choose what this link opens for your "
            "students. An assignment's scores come back to the LMS's gradebook.</p>" + "".join(sections))
    return PAGE.format(title="Choose a lesson or an assignment", body=body)


def response_page(return_url, token):
    """The answer, posted by the browser to the LMS (as the LMS's own frame or page)."""
    body = (f'<form id="answer" method="post" action="{html.escape(return_url)}">'
            f'<input type="hidden" name="JWT" value="{html.escape(token)}"><noscript><button type="submit">'
            "Back to the LMS</button></noscript></form>"
            '<script>document.getElementById("answer").submit();</script>')
    return PAGE.format(title="Back to the LMS", body=body)
