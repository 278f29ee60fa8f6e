"""LTI 1.3 launches' checks: the login's state and nonce, the id_token's signature (against the
platform's keyset, fetched and cached, refetched for a new key id), issuer, audience, times,
deployment, message type and version. No HTTP handler code.

The state and its nonce are kept by the hub, not in cookies, which browsers drop inside an
LMS's frame: a state is used once, expires after STATE_SECONDS, and the memory has a hard size
(when full, logins are refused for a moment rather than an unexpired state forgotten).
"""

import secrets
import threading
import time
from dataclasses import dataclass

import jwt

from .rules import LaunchError

ALGORITHM = "RS256"  # LTI 1.3 (IMS Security Framework) signs with RS256, and nothing else is taken
LEEWAY = 30  # seconds of clock difference with the platform
MAX_AGE = 600  # an id_token issued longer ago than this is refused, whatever its exp
STATE_SECONDS = 600
MAX_STATES = 100_000
KEYSET_TIMEOUT = 5
KEYSET_LIFESPAN = 300
KEYSET_COOLDOWN = 30  # at most one refetch this often: made-up key ids cannot make the hub fetch in a loop

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"


@dataclass
class LoginState:
    issuer: str
    client_id: str
    nonce: str
    expires: float


class LoginStates:
    """The states of logins begun and not finished: each answers one launch."""

    def __init__(self, capacity=MAX_STATES, lifetime=STATE_SECONDS, clock=time.time):
        self.capacity, self.lifetime, self.clock = capacity, lifetime, clock
        self.states, self.lock = {}, threading.Lock()

    def begin(self, issuer, client_id):
        """A new (state, nonce) for a login at this platform."""
        now = self.clock()
        with self.lock:
            if len(self.states) >= self.capacity:
                self.states = {key: value for key, value in self.states.items() if value.expires > now}
            if len(self.states) >= self.capacity:
                raise LaunchError(503, "too many LTI 1.3 logins at once: try again in a minute")
            state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self.states[state] = LoginState(issuer, client_id, nonce, now + self.lifetime)
        return state, nonce

    def take(self, state):
        """The login this state began (never again), or LaunchError."""
        with self.lock:
            found = self.states.pop(state, None) if isinstance(state, str) else None
        if found is None:
            raise LaunchError(400, "unknown or already used state: start the launch again from the LMS")
        if found.expires < self.clock():
            raise LaunchError(400, f"the login began more than {self.lifetime} s ago: start the launch again")
        return found


class Keysets:
    """Each platform's signing keys, from its keyset URL (cached; a new key id refetches)."""

    def __init__(self):
        self.clients, self.lock = {}, threading.Lock()

    def signing_key(self, keyset_url, token):
        with self.lock:
            client = self.clients.get(keyset_url)
            if client is None:
                client = self.clients[keyset_url] = jwt.PyJWKClient(
                    keyset_url, cache_keys=True, lifespan=KEYSET_LIFESPAN, timeout=KEYSET_TIMEOUT,
                    cooldown_duration=KEYSET_COOLDOWN)
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as error:
            raise LaunchError(502, f"the platform's keyset {keyset_url} could not be read: {error}")
        except (jwt.PyJWKClientError, jwt.DecodeError) as error:
            raise LaunchError(401, f"no key of the platform's keyset {keyset_url} matches the id_token: {error}")


def unverified(token):
    """(header, claims) read without any check: only to find which platform to check it with."""
    if not isinstance(token, str) or not token:
        raise LaunchError(400, "the launch has no id_token")
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise LaunchError(400, f"the id_token is not a JWT: {error}")


def audiences(claims):
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def verify_id_token(token, platform, login, keysets, clock=time.time):
    """The claims of `token` once every check passed; LaunchError naming the first that failed.
    `login` is the LoginState the launch's state named."""
    header, _ = unverified(token)
    if header.get("alg") != ALGORITHM:
        raise LaunchError(401, f"the id_token is signed with {header.get('alg')!r}: only {ALGORITHM} is accepted")
    if (login.issuer, login.client_id) != (platform.issuer, platform.client_id):
        raise LaunchError(401, "the id_token is not from the platform the login began with")
    key = keysets.signing_key(platform.keyset_url, token)
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=platform.client_id, issuer=platform.issuer, leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.PyJWTError as error:
        raise LaunchError(401, f"id_token refused: {error}")
    now = clock()
    if claims["iat"] > now + LEEWAY or now - claims["iat"] > MAX_AGE + LEEWAY:
        raise LaunchError(401, f"id_token issued at {claims['iat']}, not within {MAX_AGE} s of now")
    if (len(audiences(claims)) > 1 or "azp" in claims) and claims.get("azp") != platform.client_id:
        raise LaunchError(401, f"id_token's azp {claims.get('azp')!r} is not the hub's client id")
    if not secrets.compare_digest(str(claims["nonce"]), login.nonce):
        raise LaunchError(401, "id_token's nonce is not the one this login sent")
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise LaunchError(401, f"deployment {deployment!r} is not registered for this platform")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise LaunchError(400, f"LTI version {claims.get(CLAIM + 'version')!r} is not 1.3.0")
    message_type = claims.get(CLAIM + "message_type")
    if message_type == DEEP_LINKING_REQUEST:
        raise LaunchError(400, "Deep Linking is not offered by this hub yet: add a plain LTI 1.3 link")
    if message_type != RESOURCE_LINK_REQUEST:
        raise LaunchError(400, f"message type {message_type!r} is not {RESOURCE_LINK_REQUEST}")
    if not isinstance(claims.get(CLAIM + "resource_link"), dict) or not claims[CLAIM + "resource_link"].get("id"):
        raise LaunchError(400, "the launch has no resource_link id")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise LaunchError(400, "the launch names no user (sub): anonymous launches are not taken")
    return claims
