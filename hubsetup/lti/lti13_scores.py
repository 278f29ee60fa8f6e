"""LTI 1.3 Assignment and Grade Services: a score posted to the line item the launch declared,
with an access token the hub asks the platform for (OAuth 2 client credentials, a JWT signed
with the hub's key), kept until shortly before it expires.

A score is sent as a fraction (`scoreGiven` 0.0-1.0 of `scoreMaximum` 1.0, which the LMS scales
to its line item's points), `FullyGraded`, with a timestamp later than any this process sent
before: platforms ignore a score older than the one they have.
"""

import datetime
import json
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
import requests

from . import bounded, lti13_keys, lti13_platforms
from .lti11_outcomes import FAILED, NOT_SCORED, Outcome, post_retrying

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINE_ITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINE_ITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINE_ITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_MARGIN = 60  # seconds before its expiry a token is no longer used
TIMEOUT = 15
DEADLINE = 30  # seconds any one reply of the platform may take in all
MAX_REPLY = 4 << 20
MAX_LINE_ITEM_PAGES = 50


class ScoreError(Exception):
    pass


def bounded_json(method, url, **kwargs):
    """(response, its JSON) of a request whose reply must come within DEADLINE and MAX_REPLY
    bytes (a platform that answers slowly or without end is given up); ScoreError otherwise."""
    try:
        response, body = bounded.read(method, url, DEADLINE, MAX_REPLY, TIMEOUT, **kwargs)
    except bounded.TooLargeOrSlow:
        raise ScoreError(f"the platform's reply from {url} is too large or too slow") from None
    except requests.RequestException as error:
        raise ScoreError(f"cannot reach the platform at {url}: {error.__class__.__name__}: {error}") from None
    try:
        return response, json.loads(body) if body else None
    except ValueError:
        return response, None


def _endpoint_url(claims, name, scopes):
    """The AGS endpoint's `name` URL where the platform grants `scopes`, or ''."""
    endpoint = claims.get(AGS_CLAIM)
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get("scope"), list):
        return ""
    url = endpoint.get(name)
    if not set(scopes) <= set(endpoint["scope"]) or not isinstance(url, str):
        return ""
    try:
        lti13_platforms.check_url(name, url)
    except lti13_platforms.RegistrationError:
        return ""  # a bearer token never goes to a plain http:// address elsewhere
    return url


def line_item_of(claims):
    """The line item URL of a launch whose platform lets the hub post scores to it, or ''."""
    return _endpoint_url(claims, "lineitem", [SCORE_SCOPE])


def line_items_of(claims):
    """The line items URL of a launch whose platform lets the hub make line items and post scores."""
    return _endpoint_url(claims, "lineitems", [SCORE_SCOPE, LINE_ITEM_SCOPE])


def _with_query(url, **query):
    return url + ("&" if "?" in url else "?") + urlencode(query)


def scores_url(line_item):
    """The line item's scores endpoint: `/scores` after its path, its query kept."""
    parts = urlsplit(line_item)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class AccessTokens:
    """Tokens per (platform, scope), for the whole process."""

    def __init__(self, clock=time.time):
        self.clock, self.tokens, self.lock = clock, {}, threading.Lock()

    def forget(self, platform, scope):
        with self.lock:
            self.tokens.pop((platform.key, scope), None)

    def token(self, state_dir, platform, scope):
        with self.lock:
            token, expires = self.tokens.get((platform.key, scope), (None, 0))
        if token and expires - TOKEN_MARGIN > self.clock():
            return token
        now = int(self.clock())
        key = lti13_keys.public_jwk(state_dir)
        assertion = jwt.encode(
            {"iss": platform.client_id, "sub": platform.client_id, "aud": platform.token_url, "iat": now,
             "exp": now + 300, "jti": uuid.uuid4().hex},
            lti13_keys.tool_key(state_dir), algorithm="RS256", headers={"kid": key["kid"]})
        response, body = bounded_json("POST", platform.token_url, data={
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, "scope": scope})
        if response.status_code != 200:
            raise ScoreError(f"the platform refused an access token: HTTP {response.status_code} "
                             f"{str(body)[:200]!r}")
        try:
            token, lifetime = body["access_token"], min(86400, int(body.get("expires_in", 3600)))
            if not isinstance(token, str):
                raise TypeError
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            raise ScoreError(f"the platform's token reply is not an access token: {str(body)[:200]!r}") from None
        with self.lock:
            self.tokens[(platform.key, scope)] = (token, self.clock() + lifetime)
        return token


class Timestamps:
    """ISO 8601 times, each later than the one before in this process."""

    def __init__(self):
        self.last, self.lock = None, threading.Lock()

    def next(self):
        with self.lock:
            now = datetime.datetime.now(datetime.timezone.utc)
            if self.last is not None and now <= self.last:
                now = self.last + datetime.timedelta(microseconds=1)
            self.last = now
        return now.isoformat(timespec="microseconds")


TOKENS, TIMESTAMPS = AccessTokens(), Timestamps()
LINE_ITEMS = {}  # (platform, line items URL, resource link, assignment) -> the line item's URL, for the process
_finding = threading.Lock()  # one find-or-make at a time: two scores at once never make two columns


def score_body(user_id, score, timestamp):
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score {score} is outside 0.0-1.0")
    return {"userId": user_id, "scoreGiven": score, "scoreMaximum": 1.0, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": timestamp}


def _verdict(response, attempt):
    if response.status_code in (200, 201, 202, 204):
        return Outcome(True, f"score taken by the line item (HTTP {response.status_code})", attempt)
    return Outcome(False, f"LMS answered HTTP {response.status_code}: {response.text[:200]!r}", attempt)


class LTI13Sender:
    """The grade of an LTI 1.3 launch, to its line item (hubsetup.grades' sender interface)."""

    protocol = "lti13"

    def __init__(self, state_dir, tokens=TOKENS, timestamps=TIMESTAMPS):
        self.state_dir, self.tokens, self.timestamps = state_dir, tokens, timestamps
        self._platforms = None

    @property
    def platforms(self):
        """Read at the first LTI 1.3 score: a push of LTI 1.1 scores never depends on them."""
        if self._platforms is None:
            self._platforms = {p.key: p for p in lti13_platforms.load_platforms(self.state_dir).values()}
        return self._platforms

    @classmethod
    def of_hub(cls, settings):
        return cls(settings.state_dir)

    def cannot_send(self, launch):
        if not (launch["score_url"] or launch.get("line_items_url")) or not launch["score_for"]:
            return NOT_SCORED, "the LMS link declares no line item (is the component graded?)"
        if launch["consumer_key"] not in self.platforms:
            return FAILED, f"the LTI 1.3 platform {launch['consumer_key']!r} is no longer registered"
        return None

    def destination(self, launch):
        if launch["score_url"]:
            return scores_url(launch["score_url"])
        return f"the line item of {launch['assignment']} in {launch['line_items_url']} (found or made)"

    def line_item(self, platform, launch):
        """The assignment's line item among the link's, found or made (its points from the
        gradebook)."""
        key = (platform.key, launch["line_items_url"], launch["resource_link_id"], launch["assignment"])
        with _finding:
            if key not in LINE_ITEMS:
                LINE_ITEMS[key] = self._find_or_make(platform, launch)
            return LINE_ITEMS[key]

    def _find_or_make(self, platform, launch):
        token = self.tokens.token(self.state_dir, platform, LINE_ITEM_SCOPE)
        headers = {"Authorization": f"Bearer {token}"}
        url = _with_query(launch["line_items_url"], resource_link_id=launch["resource_link_id"],
                          resource_id=launch["assignment"])
        for _ in range(MAX_LINE_ITEM_PAGES):  # the platform may ignore the filter: every page is looked at
            response, items = bounded_json("GET", url, headers={**headers, "Accept": LINE_ITEMS_TYPE})
            if response.status_code != 200 or not isinstance(items, list):
                raise ScoreError(f"the platform's line items answered HTTP {response.status_code}, "
                                 f"not a list of line items: {str(items)[:200]!r}")
            for item in items:
                if (isinstance(item, dict) and item.get("resourceId") == launch["assignment"]
                        and item.get("resourceLinkId") in (None, launch["resource_link_id"])
                        and isinstance(item.get("id"), str)):
                    lti13_platforms.check_url("lineitem", item["id"])
                    return item["id"]
            url = response.links.get("next", {}).get("url")
            if not url:
                break
            lti13_platforms.check_url("lineitems", url)
        response, made = bounded_json("POST", launch["line_items_url"], headers={
            **headers, "Content-Type": LINE_ITEM_TYPE, "Accept": LINE_ITEM_TYPE}, json={
            "scoreMaximum": launch.get("assignment_points") or 1, "label": launch["assignment"],
            "resourceId": launch["assignment"], "resourceLinkId": launch["resource_link_id"], "tag": "nbgrader"})
        if response.status_code not in (200, 201) or not isinstance(made, dict) or not isinstance(made.get("id"), str):
            raise ScoreError(f"the platform did not make a line item: HTTP {response.status_code} {str(made)[:200]!r}")
        lti13_platforms.check_url("lineitem", made["id"])
        return made["id"]

    def send(self, launch, score):
        platform = self.platforms[launch["consumer_key"]]
        body = score_body(launch["score_for"], score, self.timestamps.next())
        try:
            url = scores_url(launch["score_url"] or self.line_item(platform, launch))
        except (ScoreError, requests.RequestException, ValueError, lti13_platforms.RegistrationError) as error:
            return Outcome(False, str(error))
        for attempt in (1, 2):  # a token the platform no longer takes is asked for again, once
            try:
                token = self.tokens.token(self.state_dir, platform, SCORE_SCOPE)
            except ScoreError as error:
                return Outcome(False, str(error))
            outcome = post_retrying(
                lambda: requests.post(url, json=body, timeout=TIMEOUT, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": SCORE_TYPE}),
                _verdict)
            if outcome.ok or "HTTP 401" not in outcome.detail or attempt == 2:
                return outcome
            self.tokens.forget(platform, SCORE_SCOPE)
