"""An edX course as an LTI 1.1 consumer: launches signed the way lti-consumer-xblock signs them.

The xblock signs the form body with oauthlib (HMAC-SHA1, the Authorization header form), then
posts the oauth_* values as form fields next to the LTI ones, with oauth_callback=about:blank.
"""

import secrets
import time
from urllib.parse import parse_qsl, unquote, urlencode

from oauthlib.oauth1 import Client

COURSE = "course-v1:DemoX+DS101+2026_T1"


def anonymous_id():
    return secrets.token_hex(16)


def launch_params(url, key, secret, *, user_id=None, roles="Student,Learner", context_id=COURSE,
                  username=None, full_name=None, custom=None, timestamp=None, nonce=None, drop=(), **extra):
    """The form an edX LTI component posts to `url`, signed with key/secret. `username` and
    `full_name` are what the component's "Request user's username" and "Request user's name"
    add."""
    params = {
        "lti_message_type": "basic-lti-launch-request",
        "lti_version": "LTI-1p0",
        "user_id": user_id or anonymous_id(),
        "roles": roles,
        "context_id": context_id,
        "context_title": "Data Science 101",
        "context_label": "DemoX",
        "resource_link_id": f"block-v1:{context_id.split(':', 1)[-1]}+type@lti_consumer+block@{secrets.token_hex(8)}",
        "lis_result_sourcedid": f"{context_id}:127.0.0.1-{secrets.token_hex(8)}:{user_id or 'anon'}",
        "lis_outcome_service_url": "https://courses.example.org/courses/x/xblock/y/handler_noauth/outcome_service_handler",
        "launch_presentation_return_url": "",
        "lti_consumer_version": "1.0",
        "oauth_callback": "about:blank",
    }
    if username:
        params["lis_person_sourcedid"] = username
        params["lis_person_contact_email_primary"] = f"{username}@example.org"
    if full_name:
        params["lis_person_name_full"] = full_name
    for name, value in (custom or {}).items():
        params[f"custom_{name}"] = value
    params.update(extra)
    for name in drop:
        params.pop(name, None)
    client = Client(key, client_secret=secret, timestamp=str(timestamp or int(time.time())),
                    nonce=nonce or secrets.token_hex(12))
    _, headers, _ = client.sign(url, http_method="POST", body=urlencode(params),
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    oauth = headers["Authorization"][len("OAuth "):]
    for pair in oauth.split(", "):
        name, value = pair.split("=", 1)
        params[name] = unquote(value.strip('"'))
    return params


def form_body(params):
    return urlencode(params)


def parse_body(body):
    return dict(parse_qsl(body))
