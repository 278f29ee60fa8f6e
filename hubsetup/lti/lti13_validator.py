"""LTI 1.3 launches' checks: the login's state and nonce, the id_token's signature (against the
platform's keyset, fetched and cached, refetched for a new key id), issuer, audience, times,
deployment, message type and version. No HTTP handler code.

A login's state carries its platform, nonce and expiry, signed with a key of the hub (not a
cookie: browsers drop those inside an LMS's frame), so logins begun and never finished cost
the hub nothing. A state is used once: the nonces of launches whose id_token passed are kept
until their state expires, at most MAX_USED at once (then launches are refused for a moment
rather than a nonce forgotten while its state could be replayed). Only a platform's signature
makes the hub remember anything, as for LTI 1.1's nonces.
"""

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

import jwt
import requests

from . import bounded
from .rules import LaunchError

ALGORITHM = "RS256"  # LTI 1.3 (IMS Security Framework) signs with RS256, and nothing else is taken
LEEWAY = 30  # seconds of clock difference with the platform
MAX_AGE = 600  # an id_token issued longer ago than this is refused, whatever its exp
MAX_TOKEN = 64 * 1024  # an id_token is a few kilobytes: a larger one is refused before it is read
STATE_SECONDS = 600
MAX_USED = 100_000
KEYSET_DEADLINE = 5  # seconds a keyset fetch may take in all
KEYSET_MAX_BYTES = 1 << 20
KEYSET_LIFESPAN = 300
KEYSET_COOLDOWN = 30  # at most one fetch this often per keyset, failed or not: made-up key ids cannot make the hub fetch in a loop

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"


@dataclass
class LoginState:
    issuer: str
    client_id: str
    nonce: str
    expires: float = 0.0


def _b64(text):
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


class LoginStates:
    """States the hub signs and checks, and the nonces of the launches that used them."""

    def __init__(self, key, capacity=MAX_USED, lifetime=STATE_SECONDS, clock=time.time):
        self.key = key.encode() if isinstance(key, str) else key
        self.capacity, self.lifetime, self.clock = capacity, lifetime, clock
        self.used, self.lock = {}, threading.Lock()

    def _mac(self, payload):
        return base64.urlsafe_b64encode(hmac.new(self.key, payload.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()

    def begin(self, issuer, client_id):
        """A new (state, nonce) for a login at this platform."""
        nonce = secrets.token_urlsafe(32)
        payload = f"{int(self.clock()) + self.lifetime}.{nonce}.{_b64(issuer)}.{_b64(client_id)}"
        return f"{payload}.{self._mac(payload)}", nonce

    def take(self, state):
        """The login a state the hub signed began, if not expired; LaunchError otherwise."""
        try:
            payload, mac = state.rsplit(".", 1)
            if not hmac.compare_digest(mac, self._mac(payload)):
                raise ValueError("not signed by this hub")
            expires, nonce, issuer, client_id = payload.split(".")
            found = LoginState(_unb64(issuer), _unb64(client_id), nonce, float(expires))
        except (AttributeError, ValueError, TypeError, UnicodeDecodeError):
            raise LaunchError(400, "unknown login state: start the launch again from the LMS") from None
        if found.expires < self.clock():
            raise LaunchError(400, f"the login began more than {self.lifetime} s ago: start the launch again")
        return found

    def spend(self, login):
        """Mark a login's state used, once its launch's id_token passed every check."""
        now = self.clock()
        with self.lock:
            if login.nonce in self.used:
                raise LaunchError(400, "this login state was already used: start the launch again from the LMS")
            if len(self.used) >= self.capacity:
                self.used = {nonce: expires for nonce, expires in self.used.items() if expires >= now}
            if len(self.used) >= self.capacity:
                raise LaunchError(503, "too many LTI 1.3 launches at once: try again in a minute")
            self.used[login.nonce] = login.expires


class OneTime:
    """Values the hub hands out under a random key, each taken back once, before it expires;
    the memory has a hard size (when full, new ones are refused rather than live ones forgotten)."""

    what = "value"

    def __init__(self, capacity=MAX_USED, lifetime=STATE_SECONDS, clock=time.time):
        self.capacity, self.lifetime, self.clock = capacity, lifetime, clock
        self.states, self.lock = {}, threading.Lock()

    def put(self, value):
        """The new key of `value` (which has an `expires` attribute the store sets)."""
        now = self.clock()
        with self.lock:
            if len(self.states) >= self.capacity:
                self.states = {key: kept for key, kept in self.states.items() if kept.expires > now}
            if len(self.states) >= self.capacity:
                raise LaunchError(503, f"too many LTI 1.3 {self.what}s at once: try again in a minute")
            key = secrets.token_urlsafe(32)
            value.expires = now + self.lifetime
            self.states[key] = value
        return key

    def take(self, key):
        """The value of `key` (never again), or LaunchError."""
        with self.lock:
            found = self.states.pop(key, None) if isinstance(key, str) else None
        if found is None:
            raise LaunchError(400, f"unknown or already used {self.what}: start again from the LMS")
        if found.expires < self.clock():
            raise LaunchError(400, f"the {self.what} began more than {self.lifetime} s ago: start again from the LMS")
        return found


class Keysets:
    """Each platform's signing keys, from its keyset URL: fetched with a deadline and a size
    limit, cached KEYSET_LIFESPAN, fetched again for an unknown key id at most every
    KEYSET_COOLDOWN (failures too); one fetch per keyset at a time, and a launch never waits
    for another's fetch longer than a fetch may take."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.lock, self.cached = clock, threading.Lock(), {}  # url -> [keys, fetched_at, url_lock]

    def _entry(self, url):
        with self.lock:
            return self.cached.setdefault(url, [{}, None, threading.Lock()])

    def signing_key(self, keyset_url, kid):
        entry = self._entry(keyset_url)
        fetched_at = entry[1]
        age = None if fetched_at is None else self.clock() - fetched_at
        wanted = kid not in entry[0] or age >= KEYSET_LIFESPAN
        if wanted and (age is None or age >= KEYSET_COOLDOWN):
            self._fetch(keyset_url, entry)
        key = entry[0].get(kid)
        if key is None:
            raise LaunchError(401, f"no key of the platform's keyset {keyset_url} has the id_token's key id {kid!r}")
        return key

    def _fetch(self, keyset_url, entry):
        url_lock = entry[2]
        if not url_lock.acquire(timeout=KEYSET_DEADLINE):
            raise LaunchError(503, f"the platform's keyset {keyset_url} is being read: try again")
        try:
            if entry[1] is None or self.clock() - entry[1] >= KEYSET_COOLDOWN:  # not fetched meanwhile
                entry[1] = self.clock()  # a failure counts too: no fetch again before the cooldown
                entry[0] = fetch_keyset(keyset_url)
        finally:
            url_lock.release()


def fetch_keyset(url):
    """{kid: public key} of the RSA signing keys at `url`."""
    try:
        response, body = bounded.read("GET", url, KEYSET_DEADLINE, KEYSET_MAX_BYTES, KEYSET_DEADLINE)
        if response.status_code != 200:
            raise LaunchError(502, f"the platform's keyset {url} answered HTTP {response.status_code}")
        found = jwt.PyJWKSet.from_json(body.decode())
    except bounded.TooLargeOrSlow:
        raise LaunchError(502, f"the platform's keyset {url} is too large or too slow") from None
    except requests.RequestException as error:
        raise LaunchError(502, f"the platform's keyset {url} could not be read: {error.__class__.__name__}")
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, ValueError, UnicodeDecodeError) as error:
        raise LaunchError(502, f"the platform's keyset {url} is not a usable keyset: {error}")
    return {key.key_id: key.key for key in found.keys
            if key.key_id and key.key_type == "RSA" and (key.public_key_use in (None, "sig"))}


DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"


def deep_linking_settings(claims):
    """A Deep Linking request's settings, checked: where the answer goes, and that a link is
    one of the kinds of content it accepts."""
    from .lti13_platforms import RegistrationError, check_url

    found = claims.get(DEEP_LINKING_SETTINGS)
    if not isinstance(found, dict):
        raise LaunchError(400, "the Deep Linking request has no deep_linking_settings")
    try:
        check_url("deep_link_return_url", found.get("deep_link_return_url"))
    except RegistrationError as error:
        raise LaunchError(400, f"the Deep Linking request's {error}")
    if "ltiResourceLink" not in (found.get("accept_types") or []):
        raise LaunchError(400, "the Deep Linking request does not accept links (accept_types lacks ltiResourceLink)")
    return found


def unverified(token):
    """(header, claims) read without any check: only to find which platform to check it with."""
    if not isinstance(token, str) or not token:
        raise LaunchError(400, "the launch has no id_token")
    if len(token) > MAX_TOKEN:
        raise LaunchError(400, f"the id_token is longer than {MAX_TOKEN} bytes")
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise LaunchError(400, f"the id_token is not a JWT: {error}")


def audiences(claims):
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def verify_id_token(token, header, platform, login, keysets, clock=time.time):
    """The claims of `token` (whose unverified `header` the caller read) once every check
    passed; LaunchError naming the first that failed. `login` is the LoginState the launch's
    state named."""
    if header.get("alg") != ALGORITHM:
        raise LaunchError(401, f"the id_token is signed with {header.get('alg')!r}: only {ALGORITHM} is accepted")
    if (login.issuer, login.client_id) != (platform.issuer, platform.client_id):
        raise LaunchError(401, "the id_token is not from the platform the login began with")
    if not isinstance(header.get("kid"), str):
        raise LaunchError(401, "the id_token names no key id (kid)")
    key = keysets.signing_key(platform.keyset_url, header["kid"])
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=platform.client_id, issuer=platform.issuer, leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.PyJWTError as error:
        raise LaunchError(401, f"id_token refused: {error}")
    now = clock()
    issued = claims["iat"]
    if not isinstance(issued, (int, float)) or issued > now + LEEWAY or now - issued > MAX_AGE + LEEWAY:
        raise LaunchError(401, f"id_token issued at {issued!r}, not within {MAX_AGE} s of now")
    if (len(audiences(claims)) > 1 or "azp" in claims) and claims.get("azp") != platform.client_id:
        raise LaunchError(401, f"id_token's azp {claims.get('azp')!r} is not the hub's client id")
    if not secrets.compare_digest(str(claims["nonce"]).encode(), login.nonce.encode()):
        raise LaunchError(401, "id_token's nonce is not the one this login sent")
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise LaunchError(401, f"deployment {deployment!r} is not registered for this platform")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise LaunchError(400, f"LTI version {claims.get(CLAIM + 'version')!r} is not 1.3.0")
    message_type = claims.get(CLAIM + "message_type")
    if message_type == DEEP_LINKING_REQUEST:
        deep_linking_settings(claims)
    elif message_type != RESOURCE_LINK_REQUEST:
        raise LaunchError(400, f"message type {message_type!r} is neither {RESOURCE_LINK_REQUEST} nor "
                               f"{DEEP_LINKING_REQUEST}")
    elif not isinstance(claims.get(CLAIM + "resource_link"), dict) or not claims[CLAIM + "resource_link"].get("id"):
        raise LaunchError(400, "the launch has no resource_link id")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise LaunchError(400, "the launch names no user (sub): anonymous launches are not taken")
    return claims
