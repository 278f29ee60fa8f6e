"""How an LMS's names become the hub's: Linux logins and nbgrader course ids, readable first,
then with a suffix keyed with a secret of the hub (so no one can take in advance the names
another person's launch would try). The same for every LTI protocol.
"""

import hashlib
import hmac
import re

MAX_NAME = 32
MAX_COURSE = 40


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
