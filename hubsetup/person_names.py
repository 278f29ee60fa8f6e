"""People's real names, as the LMS or accounts.csv gives them: kept beside the login and shown
where teachers look (the formgrader's students, `grades export`, `hubsetup status`).

A name is shown as given, in any script; only what no name has is refused (control
characters, more than MAX_LENGTH characters), and then the login is shown instead.
"""

import logging
import unicodedata
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_LENGTH = 200
# Characters that break a line or turn the text around where the name is shown (a name could
# otherwise read as another in a list). Other format characters stay: Persian names need ZWNJ.
NOT_IN_NAMES = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


@dataclass(frozen=True)
class PersonName:
    full: str = ""
    given: str = ""
    family: str = ""

    def __bool__(self):
        return bool(self.full or self.given or self.family)

    @property
    def shown(self):
        """The name as people write it: the full name, or given and family names."""
        return self.full or " ".join(part for part in (self.given, self.family) if part)

    def first_last(self):
        """(first_name, last_name) for nbgrader's student records. Without given and family
        names, a full name with spaces is split at its last one ("Marie-Hélène Dupont"); one
        without ("张三") is the last name whole, which nbgrader sorts by and shows first."""
        if self.given or self.family:
            return self.given, self.family
        first, _, last = self.full.rpartition(" ")
        return first, last


def name_problem(value):
    """Why `value` cannot be a person's name, or None."""
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in NOT_IN_NAMES for c in value):
        return "it contains control characters"
    if len(value) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    return None


def _clean(value, field, who):
    problem = name_problem(value)
    if problem:
        log.warning("%s: %s is not kept as a name (%s); the login is shown instead", who, field, problem)
        return None
    return " ".join(value.split())


def person_name(full="", given="", family="", who="a user"):
    """The PersonName of these fields, or an empty one (logged) if any of them is not a name."""
    fields = {"full name": full or "", "given name": given or "", "family name": family or ""}
    cleaned = [_clean(value, field, who) for field, value in fields.items()]
    if None in cleaned:
        return PersonName()
    return PersonName(*cleaned)


def shown_with_login(login, shown):
    """`login (name)` where the name says more than the login."""
    return f"{login} ({shown})" if shown and shown != login else login
