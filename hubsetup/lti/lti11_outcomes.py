"""LTI 1.1 Basic Outcomes: send a score to the LMS gradebook (replaceResultRequest).

The request is POX XML signed with OAuth 1.0a HMAC-SHA1 and an oauth_body_hash (oauthlib adds
the body hash for non-form bodies). edX answers HTTP 200 even when it refuses a score, so the
verdict is the reply's imsx_codeMajor, never the status code alone.
"""

import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

import requests
from oauthlib.oauth1 import Client

NS = "http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0"
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
# Push statuses a sender gives (hubsetup.grades has the others).
NOT_SCORED, FAILED = "component not scored", "failed"


@dataclass
class Outcome:
    ok: bool
    detail: str  # the LMS's description, or why the request failed
    attempts: int = 1


def replace_result_xml(sourcedid, score):
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score {score} is outside 0.0-1.0")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<imsx_POXEnvelopeRequest xmlns="{NS}">'
        "<imsx_POXHeader><imsx_POXRequestHeaderInfo><imsx_version>V1.0</imsx_version>"
        f"<imsx_messageIdentifier>{uuid.uuid4().hex}</imsx_messageIdentifier>"
        "</imsx_POXRequestHeaderInfo></imsx_POXHeader>"
        "<imsx_POXBody><replaceResultRequest><resultRecord>"
        f"<sourcedGUID><sourcedId>{escape(sourcedid)}</sourcedId></sourcedGUID>"
        f"<result><resultScore><language>en</language><textString>{score:.4f}</textString>"
        "</resultScore></result></resultRecord></replaceResultRequest></imsx_POXBody>"
        "</imsx_POXEnvelopeRequest>"
    )


def parse_reply(text):
    """(codeMajor, description) of a POX response; ('unreadable', ...) if it is not one."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        return "unreadable", f"reply is not XML ({error})"
    major = root.find(f".//{{{NS}}}imsx_codeMajor")
    description = root.find(f".//{{{NS}}}imsx_description")
    if major is None:
        return "unreadable", "reply has no imsx_codeMajor"
    return (major.text or "").strip(), (description.text or "").strip() if description is not None else ""


def signed_request(url, key, secret, body):
    """(headers, body) for a POST of `body`, signed for `key`/`secret`."""
    client = Client(key, client_secret=secret)
    _, headers, body = client.sign(
        url, http_method="POST", body=body, headers={"Content-Type": "application/xml"}
    )
    return headers, body


def send_score(url, key, secret, sourcedid, score, attempts=4, backoff=1.0, timeout=15):
    """Send one score; transient failures (network, 5xx, 429) are retried with backoff."""
    body = replace_result_xml(sourcedid, score)

    def post():
        headers, signed_body = signed_request(url, key, secret, body)  # fresh nonce each try
        return requests.post(url, data=signed_body.encode(), headers=headers, timeout=timeout)

    return post_retrying(post, _verdict, attempts, backoff)


def post_retrying(post, verdict, attempts=4, backoff=1.0):
    """`verdict(response, attempt)` of the first answer that is not transient; the network's
    failures, 5xx and 429 are tried again, with backoff. Every protocol's scores go this way."""
    detail = ""
    for attempt in range(1, attempts + 1):
        try:
            response = post()
        except requests.RequestException as error:
            detail = f"cannot reach the LMS: {error.__class__.__name__}: {error}"
        else:
            if response.status_code not in TRANSIENT_STATUS:
                return verdict(response, attempt)
            detail = f"LMS answered HTTP {response.status_code}"
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    return Outcome(False, f"{detail} (after {attempts} attempts)", attempts)


def _verdict(response, attempt):
    if response.status_code != 200:
        return Outcome(False, f"LMS answered HTTP {response.status_code}", attempt)
    major, description = parse_reply(response.text)
    if major == "success":
        return Outcome(True, description or "success", attempt)
    return Outcome(False, f"LMS said {major}: {description or 'no description'}", attempt)


class LTI11Sender:
    """The grade of an LTI 1.1 launch: replaceResult to the launch's outcome service, signed
    with its consumer's secret. A sender per protocol, each with this interface, is chosen by
    the `protocol` of the launch record (hubsetup.grades)."""

    protocol = "lti11"

    def __init__(self, consumers, post=send_score):
        self.consumers, self.post = consumers, post

    @classmethod
    def of_hub(cls, settings):
        from .consumers import all_consumers

        return cls(all_consumers(settings.state_dir, settings.lti_consumers))

    def cannot_send(self, launch):
        """(status, why) when this launch's score cannot go back, else None."""
        if not launch["score_url"] or not launch["score_for"]:
            return NOT_SCORED, "the LMS sent no outcome service (is the component graded?)"
        if launch["consumer_key"] not in self.consumers:
            return FAILED, f"LTI consumer key {launch['consumer_key']!r} is no longer configured"
        return None

    def destination(self, launch):
        return launch["score_url"]

    def send(self, launch, score):
        secret = self.consumers[launch["consumer_key"]]
        return self.post(launch["score_url"], launch["consumer_key"], secret, launch["score_for"], score)
