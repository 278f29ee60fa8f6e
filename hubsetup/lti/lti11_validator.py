"""LTI 1.1 launch signatures (OAuth 1.0a, HMAC-SHA1), timestamps and nonces: no HTTP code.

ltiauthenticator's validator remembers a launch's nonce before it checks the signature, so
anyone who knows a consumer key (it is in every launch form) can make the hub remember nonces
without bound. Here the signature is checked first: only a holder of the secret can make the
hub remember anything, and that memory has a hard size. When it is full, launches are refused
(503) rather than a nonce forgotten while its launch could still be replayed.
"""

import heapq
import time

from oauthlib.common import safe_string_equals
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature

from .rules import LaunchError

# A launch's timestamp may be this many seconds either side of the hub's clock.
WINDOW = 30
OAUTH_REQUIRED = ("oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_signature_method",
                  "oauth_timestamp")
SIGNATURE_METHOD = "HMAC-SHA1"
MAX_NONCE_LENGTH = 128
# Nonces seen within the window; a hub that takes more signed launches than this in a minute
# refuses the extra ones for a moment. One consumer may fill a quarter: a team whose secret
# leaked cannot stop every other team's launches.
MAX_REMEMBERED = 100_000
MAX_PER_CONSUMER = MAX_REMEMBERED // 4


class NonceMemory:
    """(consumer key, timestamp, nonce) of every signed launch still inside the window."""

    def __init__(self, capacity=MAX_REMEMBERED, per_consumer=MAX_PER_CONSUMER, window=WINDOW, clock=time.time):
        self.capacity, self.per_consumer, self.window, self.clock = capacity, per_consumer, window, clock
        self.seen, self.expiry, self.by_consumer = set(), [], {}

    def __len__(self):
        return len(self.seen)

    def use(self, consumer_key, timestamp, nonce):
        """Remember a launch; LaunchError if it was seen before or memory is full."""
        now = self.clock()
        while self.expiry and self.expiry[0][0] < now:
            expired = heapq.heappop(self.expiry)[1]
            self.seen.discard(expired)
            self.by_consumer[expired[0]] -= 1
        entry = (consumer_key, timestamp, nonce)
        if entry in self.seen:
            raise LaunchError(401, "this launch was already used (its oauth_nonce and oauth_timestamp were seen before)")
        if len(self.seen) >= self.capacity or self.by_consumer.get(consumer_key, 0) >= self.per_consumer:
            raise LaunchError(503, "too many launches at once: try again in a minute")
        self.seen.add(entry)
        self.by_consumer[consumer_key] = self.by_consumer.get(consumer_key, 0) + 1
        # Past this moment the timestamp is refused anyway, so the nonce can be forgotten.
        heapq.heappush(self.expiry, (timestamp + self.window + 1, entry))


def signed_base_string(launch_url, args, headers=None):
    params = signature.collect_parameters(body=list(args.items()), headers=headers or {})
    return signature.signature_base_string(
        "POST", signature.base_string_uri(launch_url), signature.normalize_parameters(params)
    )


def verify(launch_url, args, consumers, nonces, headers=None, now=None):
    """Check a launch's OAuth fields, signature, timestamp and nonce, in an order in which
    nothing is remembered for an unsigned request. Returns the consumer key."""
    for name in OAUTH_REQUIRED:
        if not args.get(name):
            raise LaunchError(400, f"launch is missing {name}")
    key = args["oauth_consumer_key"]
    if key not in consumers:
        raise LaunchError(401, f"unknown oauth_consumer_key {key!r}")
    if args["oauth_signature_method"] != SIGNATURE_METHOD:
        raise LaunchError(401, f"oauth_signature_method must be {SIGNATURE_METHOD}")
    raw_timestamp = args["oauth_timestamp"]
    if not (raw_timestamp.isdigit() and len(raw_timestamp) == 10):
        raise LaunchError(401, "oauth_timestamp must be seconds since 1970, 10 digits")
    timestamp = int(raw_timestamp)
    now = time.time() if now is None else now
    if abs(now - timestamp) > WINDOW:
        raise LaunchError(401, f"oauth_timestamp is {int(now - timestamp)} s from the hub's clock "
                               f"(at most {WINDOW} s allowed: are both clocks synchronised?)")
    if len(args["oauth_nonce"]) > MAX_NONCE_LENGTH:
        raise LaunchError(400, f"oauth_nonce is longer than {MAX_NONCE_LENGTH} characters")
    expected = signature.sign_hmac_sha1_with_client(
        signed_base_string(launch_url, args, headers), Client(key, client_secret=consumers[key])
    )
    if not safe_string_equals(expected, args["oauth_signature"]):
        raise LaunchError(401, "oauth_signature does not match (wrong secret, or the URL or a field changed)")
    nonces.use(key, timestamp, args["oauth_nonce"])
    return key
