"""Launch rules every LTI protocol shares, without HTTP code: which `next` a launch may name,
which sites may post one, and what its roles mean.
"""

import re
from urllib.parse import quote, urlsplit

from ..materials import path_problem

INSTRUCTOR_ROLES = {
    "instructor", "administrator", "teachingassistant", "contentdeveloper", "mentor", "staff",
}


class LaunchError(Exception):
    """A launch we refuse: `status` is the HTTP status, the message says which field and why."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


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


ASSIGNMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # with fullmatch: no trailing newline


def assignment_problem(name):
    if not ASSIGNMENT_NAME.fullmatch(name) or ".." in name:
        return f"{name!r} is not an nbgrader assignment name"
    return None


def _lesson_path(path):
    problem = path_problem(path.strip("/"))
    if problem:
        raise LaunchError(400, f"custom_lesson {path!r} {problem}")
    return path.strip("/")


def launch_target(args, base_url, course, next_path):
    """Where a launch sends the user, in their server's `open/` pages (hubsetup.lesson_server),
    which make the target ready first: `custom_lesson` (a file of the course's published
    materials), `custom_assignment` alone (the nbgrader assignment, fetched), or a `next` into
    JupyterLab's file tree (checked to exist). Any other `next` as it is; None: the default."""
    check_target_fields(args)
    redirect = f"{base_url}user-redirect/"
    if args.get("custom_lesson"):
        return f"{redirect}open/lesson/{quote(course)}/{quote(_lesson_path(args['custom_lesson']))}"
    if next_path:
        tree = f"{redirect}lab/tree/"
        if next_path.startswith(tree) and "?" not in next_path and "#" not in next_path:
            return f"{redirect}open/file/{next_path[len(tree):]}"
        return next_path
    if args.get("custom_assignment"):
        return f"{redirect}open/assignment/{quote(course)}/{quote(args['custom_assignment'])}"
    return None


def check_target_fields(args):
    """Refuse, before anyone is logged in, a lesson or assignment no course could have."""
    if args.get("custom_lesson"):
        _lesson_path(args["custom_lesson"])
    assignment = args.get("custom_assignment")
    if assignment and assignment_problem(assignment):
        raise LaunchError(400, f"custom_assignment {assignment_problem(assignment)}")
