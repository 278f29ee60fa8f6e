"""Read and validate `accounts.csv`: one account per line,
`login;password[;teacher[;courses[;name]]]`.

Every problem in the file is collected, with its line number, before anything is changed, so an
admin fixes the whole file in one pass and a half-valid file never half-applies.
"""

import csv
import hashlib
import io
import os
import re
import time
from dataclasses import dataclass, field

from . import passwords
from .person_names import name_problem

MAX_LOGIN_LENGTH = 32
# Lowercase only: JupyterHub lowercases the names people type, so "Prof1" could never log in.
LOGIN_PATTERN = re.compile(r"^[a-z_][a-z0-9_.-]*$")
COURSE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
MAX_COURSE_LENGTH = 40
HEADER_FIRST_FIELDS = {"login", "username", "user", "name"}
TEACHER_FLAGS = {"1": True, "0": False, "": False}
# The sample accounts.csv's passwords: the hub warns loudly while any is still in use.
SAMPLE_PASSWORDS = {"prof1": "wawa", "eleve1": "eleve1pw", "eleve2": "eleve2pw"}
# Names that are never a person, whatever the system's passwd says.
RESERVED_LOGINS = {"root", "admin", "jupyterhub", "hub", "nobody", "daemon", "service"}


class AccountsError(ValueError):
    """The accounts file has problems; `problems` is a list of `line N: ...` strings."""

    def __init__(self, path, problems):
        self.path = path
        self.problems = problems
        listing = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(
            f"{path}: {len(problems)} problem(s), nothing was changed:\n{listing}"
        )


@dataclass
class Account:
    login: str
    password: str  # plaintext, or a crypt hash when `password_is_hash`
    teacher: bool = False
    courses: list = field(default_factory=list)  # empty: the defaults of `default_course`
    line: int = 0
    name: str = ""  # the person's real name, in any script; empty: the login is shown

    @property
    def password_is_hash(self):
        return passwords.looks_like_hash(self.password)


def default_course(login):
    """The course a teacher gets when their row names none."""
    return f"cours_{login}"


def login_problem(login, system_logins=frozenset()):
    """Why `login` cannot be a hub account, or None if it can."""
    if not login:
        return "login is empty"
    if len(login) > MAX_LOGIN_LENGTH:
        return f"login {login!r} is longer than {MAX_LOGIN_LENGTH} characters"
    if login != login.lower() and LOGIN_PATTERN.match(login.lower()):
        return f"login {login!r} must be lowercase (JupyterHub lowercases names): use {login.lower()!r}"
    if not LOGIN_PATTERN.match(login):
        return (
            f"login {login!r} may only use a-z, 0-9, '_', '.', '-' and must start with a letter or '_'"
        )
    if login in RESERVED_LOGINS or login in system_logins:
        return f"login {login!r} is a system account"
    return None


def course_problem(course):
    if len(course) > MAX_COURSE_LENGTH or not COURSE_PATTERN.match(course):
        return (
            f"course {course!r} must be lowercase a-z, 0-9, '_', '.', '-' "
            f"(at most {MAX_COURSE_LENGTH} characters, starting with a letter or digit)"
        )
    return None


def _password_problem(password):
    if not password:
        return "password is empty"
    if password.startswith("$") and passwords.looks_like_hash(password):
        if not passwords.is_valid_hash(password):
            return "password looks like a crypt hash but this system cannot use it"
    if password != password.strip():
        return "password starts or ends with a space (quote it if that is intended)"
    return None


def _parse_row(fields, line, system_logins):
    """An Account and the problems of one row."""
    problems = []
    if len(fields) < 2 or len(fields) > 5:
        hint = " (fields are separated by ';', not ',')" if len(fields) == 1 and "," in fields[0] else ""
        if len(fields) > 5:
            hint = " (a name with a ';' in it goes between double quotes)"
        return None, [f"line {line}: expected 'login;password[;teacher[;courses[;name]]]'{hint}"]
    login = fields[0].strip()
    password = fields[1]
    flag = fields[2].strip().lower() if len(fields) > 2 else ""
    courses = fields[3].replace(",", " ").split() if len(fields) > 3 else []
    name = fields[4].strip() if len(fields) > 4 else ""
    for problem in (login_problem(login, system_logins), _password_problem(password)):
        if problem:
            problems.append(f"line {line}: {problem}")
    if flag not in TEACHER_FLAGS:
        problems.append(f"line {line}: teacher flag {fields[2]!r} must be 1 (teacher) or 0/empty (student)")
    for course in courses:
        problem = course_problem(course)
        if problem:
            problems.append(f"line {line}: {problem}")
    if name_problem(name):
        problems.append(f"line {line}: name {name[:40]!r}{'...' if len(name) > 40 else ''}: {name_problem(name)}")
    account = Account(login, password, TEACHER_FLAGS.get(flag, False), courses, line, " ".join(name.split()))
    return account, problems


def parse(text, path="accounts.csv", system_logins=frozenset()):
    """All accounts of `text`, or AccountsError naming every bad line."""
    accounts, problems, first_line = [], [], {}
    rows = csv.reader(io.StringIO(text), delimiter=";")
    seen_data = False
    for fields in rows:
        line = rows.line_num
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        is_header = not seen_data and fields[0].strip().lower() in HEADER_FIRST_FIELDS
        seen_data = True
        if is_header:
            continue
        account, row_problems = _parse_row(fields, line, system_logins)
        problems.extend(row_problems)
        if account is None or row_problems:
            continue
        if account.login in first_line:
            problems.append(
                f"line {line}: login {account.login!r} already appears on line {first_line[account.login]}"
            )
            continue
        first_line[account.login] = line
        accounts.append(account)
    if problems:
        raise AccountsError(path, problems)
    return accounts


@dataclass(frozen=True)
class Source:
    """Which accounts file was read: what a sync says it applied."""

    path: str
    modified: float
    sha256: str

    def describe(self, count):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.modified))
        return f"{self.path} (modified {when}, {count} accounts)"


def read(path):
    """The file's text and its Source, read once (an edit meanwhile cannot mix two versions)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
            modified = os.fstat(f.fileno()).st_mtime
    except FileNotFoundError:
        raise AccountsError(path, [f"file not found (mount the folder holding accounts.csv at {os.path.dirname(path)})"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise AccountsError(path, [f"not UTF-8 text (byte {e.start}); save it as UTF-8 CSV"])
    return text, Source(path, modified, hashlib.sha256(data).hexdigest())


def load(path, system_logins=frozenset()):
    """(accounts, Source) of the file at `path`."""
    text, source = read(path)
    return parse(text, path, system_logins), source


def courses_of(accounts):
    """{login: [courses]} with defaults filled in.

    A teacher row without courses teaches `cours_<login>`. A student row without courses joins
    every course taught by a teacher row, which is what a school with a shared class expects.
    """
    taught = {}
    for account in accounts:
        if account.teacher:
            taught[account.login] = account.courses or [default_course(account.login)]
    all_taught = sorted({course for courses in taught.values() for course in courses})
    return {
        account.login: taught.get(account.login) or account.courses or all_taught
        for account in accounts
    }


def sample_password_logins(accounts):
    return [a.login for a in accounts if SAMPLE_PASSWORDS.get(a.login) == a.password]
