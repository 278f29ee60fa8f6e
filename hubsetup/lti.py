"""LTI 1.1 launch rules that sit beside ltiauthenticator's signature check: no HTTP code here.

What a launch must carry, which `next` it may name, what its roles mean, how an LMS's names
become Linux names, and the consumer keys/secrets an LMS signs with.
"""

import hashlib
import hmac
import json
import os
import re
import secrets
from urllib.parse import urlsplit

MESSAGE_TYPE = "basic-lti-launch-request"
VERSIONS = {"LTI-1p0", "LTI-1p1"}  # LTI 1.1 launches still say LTI-1p0 (spec, section 5.1)
REQUIRED = ("lti_message_type", "lti_version", "resource_link_id", "user_id")
INSTRUCTOR_ROLES = {
    "instructor", "administrator", "teachingassistant", "contentdeveloper", "mentor", "staff",
}
CONSUMERS_FILE = "lti_consumers.json"
MAX_NAME = 32
MAX_COURSE = 40


class LaunchError(Exception):
    """A launch we refuse: `status` is the HTTP status, the message says which field and why."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


def check_launch(args):
    """Refuse launches that are not LTI 1.1 basic launches, before any signature work."""
    for name in REQUIRED:
        if not args.get(name):
            raise LaunchError(400, f"launch is missing {name}")
    if args["lti_message_type"] != MESSAGE_TYPE:
        raise LaunchError(400, f"lti_message_type {args['lti_message_type']!r} is not {MESSAGE_TYPE!r}")
    if args["lti_version"] not in VERSIONS:
        raise LaunchError(400, f"lti_version {args['lti_version']!r} is not one of {sorted(VERSIONS)}")


def safe_next(next_url, base_url, host):
    """The path to send the user to, if `next_url` stays on this hub; LaunchError otherwise.

    A relative path under the hub's base URL is kept; an absolute URL only if it names this
    very host, and then only its path is used."""
    if not next_url:
        return None
    if "\\" in next_url or any(ord(c) < 32 for c in next_url):
        raise LaunchError(400, "next contains characters a URL path may not have")
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != host:
            raise LaunchError(400, f"next points off this hub: {next_url!r}")
    path = parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    if not parts.path.startswith(base_url) or parts.path.startswith("//") or "/../" in parts.path + "/":
        raise LaunchError(400, f"next must be a path under {base_url}: {next_url!r}")
    return path


def check_origin(origin, lms_origins, own_origin):
    """Refuse a launch form posted from a site that is not one of the LMSs (login CSRF: a
    page elsewhere could post a launch signed for its author and log the visitor in as them).
    Only where LMS_ORIGINS lists them, and only when the browser says where it posts from."""
    if lms_origins and origin and origin not in (*lms_origins, own_origin):
        raise LaunchError(403, f"launch posted from {origin}, which is not one of LMS_ORIGINS")


def is_instructor(roles):
    """True for Instructor/Administrator/staff roles, short names or URNs (lis, instrole)."""
    for role in roles.split(","):
        name = re.split(r"[/:#]", role.strip())[-1].lower()
        if name in INSTRUCTOR_ROLES:
            return True
    return False


def _short_hash(value, length=6):
    return hashlib.sha256(value.encode()).hexdigest()[:length]


def _slug(raw, prefix, may_start, max_length):
    """Lowercase [a-z0-9_.-] from `raw`; `prefix` added when the first character may not start
    a name; names that had to be shortened end with a hash of `raw` so they stay distinct."""
    name = re.sub(r"[^a-z0-9_.-]+", "-", raw.lower()).strip("-.")
    if not name or not may_start(name[0]):
        name = prefix + name
    if len(name) > max_length:
        name = name[: max_length - 7].rstrip("-.") + "-" + _short_hash(raw)
    return name


def linux_name(raw, max_length=MAX_NAME):
    """A valid Linux login from an LMS name, starting with a letter."""
    return _slug(raw, "u", str.isalpha, max_length)


def course_name(context_id, max_length=MAX_COURSE):
    """An nbgrader course id from an LTI context_id (course-v1:DemoX+DS101+2026_T1 and the like)."""
    return _slug(context_id, "c", str.isalnum, max_length)


def _candidates(base, raw, max_length, key):
    """`base`, then `base` with a distinguishing hash of `raw`, keyed with the hub's `key` so
    that nobody outside can work out, and take first, the names another launch would try."""
    yield base
    for attempt in range(1, 100):
        digest = hmac.new(key.encode(), f"{raw}#{attempt}".encode(), hashlib.sha256).hexdigest()
        suffix = "-" + digest[:6]
        yield base[: max_length - len(suffix)].rstrip("-.") + suffix


def candidate_logins(raw, key):
    """Logins to try for a new LTI user, best first; later ones carry a distinguishing hash."""
    return _candidates(linux_name(raw), raw, MAX_NAME, key)


def candidate_courses(consumer_key, context_id, key):
    """Course names to try for a new (consumer, context), best first."""
    return _candidates(course_name(context_id), f"{consumer_key}\n{context_id}", MAX_COURSE, key)


# --- consumers: key -> secret ----------------------------------------------------------------

def consumers_path(state_dir):
    return os.path.join(state_dir, CONSUMERS_FILE)


def load_consumers(state_dir):
    """{key: secret} from the hub-state volume's consumers file ({} when there is none)."""
    try:
        with open(consumers_path(state_dir)) as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise ValueError(f"{consumers_path(state_dir)} must be a JSON object of key: secret strings")
    return data


def save_consumers(state_dir, consumers):
    path = consumers_path(state_dir)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(consumers, f, indent=2)
    os.replace(tmp, path)


def new_consumer(state_dir, key=None):
    """Add a consumer with a generated secret (and key, unless given); returns (key, secret)."""
    consumers = load_consumers(state_dir)
    key = key or "hub-" + secrets.token_hex(8)
    if key in consumers:
        raise ValueError(f"consumer key {key!r} already exists")
    consumers[key] = secrets.token_urlsafe(32)
    save_consumers(state_dir, consumers)
    return key, consumers[key]


def all_consumers(state_dir, configured=None):
    """The consumers the hub accepts: LTI_KEY/LTI_SECRET from the settings and the file's."""
    consumers = load_consumers(state_dir)
    if configured:
        consumers.update(configured)
    return consumers


TEAM_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def team_key(team):
    """A course team's consumer key: its name, which launches show (the secret is what counts)."""
    if not TEAM_PATTERN.match(team):
        raise ValueError(f"team {team!r}: use up to 40 lowercase letters, digits, '_', '.', '-'")
    return team


def passport(lti_id, key, secret):
    """The string edX Studio takes under Advanced Settings -> LTI Passports."""
    for part, name in ((lti_id, "LTI id"), (key, "key"), (secret, "secret")):
        if ":" in part:
            raise ValueError(f"the {name} {part!r} may not contain ':' (it separates passport fields)")
    return f"{lti_id}:{key}:{secret}"
