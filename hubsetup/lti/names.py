"""How an LMS's names become the hub's: Linux logins and nbgrader course ids, readable first,
then with a suffix keyed with a secret of the hub (so no one can take in advance the names
another person's launch would try). The same for every LTI protocol.

Logins are transliterated first (anyascii: 张三 -> zhangsan, marie-hélène -> marie-helene), so
that a teacher of any class can tell who is who. A name that gives nothing readable falls back
to a short form of the LMS's anonymous id.
"""

import hashlib
import hmac
import logging
import re
import unicodedata

from anyascii import anyascii

log = logging.getLogger(__name__)

MAX_NAME = 32
MAX_COURSE = 40
# Longer than any person's name: such a value is not a name, and is not made a login.
MAX_RAW_NAME = 200
ANONYMOUS_ID_LENGTH = 12


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


def transliterated(raw):
    """`raw` in ASCII letters, symbols and emoji left out (anyascii would spell them out as
    words, ':grinning:', which are no one's name)."""
    kept = "".join(" " if unicodedata.category(c)[0] in "SC" else c for c in raw)
    return anyascii(kept)


def unusable_name(raw):
    """Why `raw` cannot give a login, or None."""
    if any(unicodedata.category(c) == "Cc" for c in raw):
        return "it contains control characters"
    if len(raw) > MAX_RAW_NAME:
        return f"it is longer than {MAX_RAW_NAME} characters"
    if not re.search(r"[A-Za-z0-9]", transliterated(raw)):
        return "it has no letter or digit that can be written in a login"
    return None


def linux_name(raw, max_length=MAX_NAME):
    """A valid Linux login from an LMS name, starting with a letter."""
    return _slug(transliterated(raw), "u", str.isalpha, max_length)


def login_base(raw, anonymous_id):
    """The readable login of an LMS user named `raw`; when `raw` cannot give one, the short
    form of their anonymous id (`anonymous_id`), and why is logged."""
    problem = unusable_name(raw)
    if problem is None:
        return linux_name(raw)
    log.warning("LTI user name %r is not made a login (%s): using the short form of its anonymous id",
                raw[:MAX_RAW_NAME], problem)
    return linux_name(anonymous_id[:ANONYMOUS_ID_LENGTH])


def course_name(context_id, max_length=MAX_COURSE):
    """An nbgrader course id from an LTI context_id (course-v1:DemoX+DS101+2026_T1 and the like).
    Not transliterated: a course made before transliteration existed must keep its name."""
    return _slug(context_id, "c", str.isalnum, max_length)


def _candidates(base, raw, max_length, key):
    """`base`, then `base` with a distinguishing hash of `raw`, keyed with the hub's `key` so
    that nobody outside can work out, and take first, the names another launch would try."""
    yield base
    for attempt in range(1, 100):
        digest = hmac.new(key.encode(), f"{raw}#{attempt}".encode(), hashlib.sha256).hexdigest()
        suffix = "-" + digest[:6]
        yield base[: max_length - len(suffix)].rstrip("-.") + suffix


def candidate_logins(raw, key, anonymous_id=""):
    """Logins to try for a new LTI user, best first; later ones carry a distinguishing hash."""
    return _candidates(login_base(raw, anonymous_id or raw), raw, MAX_NAME, key)


def candidate_courses(consumer_key, context_id, key):
    """Course names to try for a new (consumer, context), best first."""
    return _candidates(course_name(context_id), f"{consumer_key}\n{context_id}", MAX_COURSE, key)
