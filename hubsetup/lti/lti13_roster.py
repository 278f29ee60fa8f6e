"""LTI 1.3 Names and Role Provisioning: a course's members as the platform lists them, read
with an access token of the roster's scope (`hubsetup lti13 roster`), set beside who has
launched into the hub, so that a teacher knows who has never opened the course's notebooks."""

from urllib.parse import urlsplit

from . import lti13_platforms
from .lti13_scores import TOKENS, ScoreError, bounded_json

NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
ROSTER_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 200


class RosterError(Exception):
    pass


def roster_url_of(claims):
    """The context's memberships URL a launch offers, or ''."""
    service = claims.get(NRPS_CLAIM)
    if not isinstance(service, dict) or not isinstance(service.get("context_memberships_url"), str):
        return ""
    try:
        lti13_platforms.check_url("context_memberships_url", service["context_memberships_url"])
    except lti13_platforms.RegistrationError:
        return ""  # a bearer token never goes to a plain http:// address elsewhere
    return service["context_memberships_url"]


def members(state_dir, platform, url, tokens=TOKENS):
    """Every member the platform lists at `url` (its pages followed), as it gives them."""
    try:
        token = tokens.token(state_dir, platform, ROSTER_SCOPE)
    except ScoreError as error:
        raise RosterError(str(error)) from None
    found, visited, origin = {}, set(), urlsplit(url)[:2]
    while url and url not in visited and len(visited) < MAX_PAGES:
        visited.add(url)
        try:
            response, body = bounded_json("GET", url, headers={"Authorization": f"Bearer {token}",
                                                                "Accept": MEMBERSHIPS_TYPE})
        except ScoreError as error:
            raise RosterError(str(error)) from None
        page = body.get("members") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(page, list):
            raise RosterError(f"the platform's roster answered HTTP {response.status_code}, not a membership "
                              f"container: {str(body)[:200]!r}")
        for member in page:
            if isinstance(member, dict) and isinstance(member.get("user_id"), str):
                found.setdefault(member["user_id"], member)
        url = response.links.get("next", {}).get("url")
        if url and urlsplit(url)[:2] != origin:  # the token goes nowhere else
            raise RosterError(f"the platform's roster points its next page elsewhere: {url[:200]!r}")
    return list(found.values())


def table(listed, logins):
    """The lines `hubsetup lti13 roster` prints: each member, their role, and their hub login
    or that they never launched; then the counts."""
    from .lti13 import teaches

    rows = []
    for member in sorted(listed, key=lambda m: (str(m.get("name") or ""), m["user_id"])):
        login = logins.get(member["user_id"])
        roles = member.get("roles") if isinstance(member.get("roles"), list) else []
        rows.append((str(member.get("name") or "")[:60] or "(no name)", member["user_id"][:40],
                     "teacher" if teaches(roles) else "student", login or "never launched",
                     "" if member.get("status", "Active") == "Active" else str(member.get("status"))))
    widths = [max([len(header)] + [len(row[i]) for row in rows]) for i, header in enumerate(("name", "lms user id"))]
    lines = [f"{'name':<{widths[0]}}  {'lms user id':<{widths[1]}}  role     hub login"]
    lines += [f"{name:<{widths[0]}}  {user:<{widths[1]}}  {role:<7}  {login}{'  (' + status + ')' if status else ''}"
              for name, user, role, login, status in rows]
    never = sum(1 for row in rows if row[3] == "never launched")
    lines.append(f"{len(rows)} members, {len(rows) - never} launched, {never} never launched")
    return lines
