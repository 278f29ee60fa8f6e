"""LTI 1.3 launches against the running hub, from a platform of our own
(harness/lti13_platform.py): registered with `hubsetup lti13 add`, its keyset served inside
the hub's container on loopback (where the hub fetches it), its id_tokens signed here. The
whole battery of bad id_tokens is the unit tests'; here a few, end to end, create nothing."""

import ast
import json
import os
import re

import jwt
import pytest

from harness import edx
from harness.lti13_platform import CLAIM, INSTRUCTOR, LEARNER, Platform, line_item, line_items, memberships_url
from harness.stack import REPO, registry_rows

from . import nbgrader_cycle

KEYSET_PORT = 9998
SCRIPT = "/srv/lti13_platform.py"  # outside /tmp, a tmpfs `docker cp` cannot write into
KEYSET_FILE = "/srv/lti13-jwks.json"
RECORD = "/srv/lti13-record.json"
MEMBERS = "/srv/lti13-members.json"
ROSTER = [{"user_id": "sub-ada", "name": "Ada Lovelace", "roles": [LEARNER]},
          {"user_id": "sub-prof", "name": "Marie Curie", "roles": [INSTRUCTOR]},
          {"user_id": "sub-late", "name": "Late Comer", "roles": [LEARNER]}]


@pytest.fixture(scope="module")
def platform(stack):
    """The platform, its keyset, token and scores endpoints in the hub's container; it checks
    the hub's token requests against the keyset the hub publishes."""
    platform = Platform("https://lms13.example.org", port=KEYSET_PORT)
    stack.compose("cp", os.path.join(REPO, "harness", "lti13_platform.py"), f"hub:{SCRIPT}")
    stack.exec("sh", "-c", f"cat > {KEYSET_FILE}", input=json.dumps(platform.keyset()))
    stack.exec("sh", "-c", f"cat > {MEMBERS}", input=json.dumps(ROSTER))
    stack.compose("exec", "-d", "hub", "/opt/venv/bin/python3", SCRIPT, str(KEYSET_PORT), KEYSET_FILE, RECORD,
                  "http://127.0.0.1:8000/hub/lti13/jwks", platform.client_id, MEMBERS)
    added = stack.exec("hubsetup", "lti13", "add", *platform.registration()).stdout
    assert "/hub/lti13/login" in added and "/hub/lti13/jwks" in added, added
    yield platform
    stack.exec("pkill", "-f", "lti13_platform.py", check=False)
    stack.exec("hubsetup", "lti13", "remove", "--issuer", platform.issuer, "--client-id", platform.client_id)


def begin(stack, session, platform):
    """The platform's login initiation, as the browser carries it: the hub's authentication
    request (state, nonce) to the platform."""
    reply = session.get(stack.url + "/hub/lti13/login", allow_redirects=False,
                        params=platform.login(stack.url + "/hub/lti13/launch"))
    assert reply.status_code == 302, (reply.status_code, reply.text[:300])
    assert reply.headers["Location"].startswith(platform.login_url + "?")
    request = platform.auth_request(reply.headers["Location"])
    assert request["redirect_uri"] == stack.url + "/hub/lti13/launch"
    return request


def launch(stack, session, token, state):
    return session.post(stack.url + "/hub/lti13/launch", data={"id_token": token, "state": state},
                        allow_redirects=False)


def logged_in_as(stack, session):
    reply = session.get(stack.url + "/hub/api/user", headers={"X-XSRFToken": session.xsrf() or ""})
    return reply.json()["name"] if reply.status_code == 200 else None


def users(stack):
    return registry_rows(stack, "SELECT count(*) FROM users")


def test_a_signed_launch_logs_the_student_in_and_opens_the_assignment(stack, client, platform):
    session = client("browser")
    request = begin(stack, session, platform)
    token = platform.id_token(platform.claims(request["nonce"], sub="sub-ada", preferred_username="ada13",
                                              name="Ada Lovelace", custom={"assignment": "ps1"}))
    reply = launch(stack, session, token, request["state"])
    assert reply.status_code == 302, (reply.status_code, reply.text[:300])
    login = logged_in_as(stack, session)
    assert login == "ada13"
    [(course,)] = ast.literal_eval(registry_rows(stack, "SELECT course FROM lti_contexts WHERE consumer_key = ?",
                                     f"lti13|{platform.issuer}|{platform.client_id}"))
    assert reply.headers["Location"].endswith(f"/hub/user-redirect/open/assignment/{course}/ps1")
    assert registry_rows(stack, "SELECT role FROM memberships WHERE login = ? AND course = ?", login, course) == \
        "[('student',)]"
    assert registry_rows(stack, "SELECT full_name FROM users WHERE login = ?", login) == "[('Ada Lovelace',)]"
    assert registry_rows(stack, "SELECT protocol FROM launches WHERE login = ?", login) == "[('lti13',)]"

    # The same person again (a new login, a new state): the same account, whatever name they now show.
    again = client("browser")
    request = begin(stack, again, platform)
    launch(stack, again, platform.id_token(platform.claims(request["nonce"], sub="sub-ada",
                                                           preferred_username="ada-renamed")), request["state"])
    assert logged_in_as(stack, again) == "ada13"


def test_a_teachers_launch_makes_them_the_courses_instructor(stack, client, platform):
    session = client("browser")
    request = begin(stack, session, platform)
    token = platform.id_token(platform.claims(request["nonce"], sub="sub-prof", preferred_username="prof13",
                                              roles=[INSTRUCTOR]))
    assert launch(stack, session, token, request["state"]).status_code == 302
    assert registry_rows(stack, "SELECT role FROM memberships WHERE login = 'prof13'") == "[('instructor',)]"


def test_names_are_never_claimed_across_protocols_platforms_or_from_accounts_csv(stack, client, platform):
    """An LTI 1.3 user named after an accounts.csv user or an LTI 1.1 one gets a login of its
    own; an LTI 1.1 launch naming the 1.3 user's login does not log in as them."""
    session = client("browser")
    request = begin(stack, session, platform)
    token = platform.id_token(platform.claims(request["nonce"], sub="sub-mallory", preferred_username="prof1"))
    assert launch(stack, session, token, request["state"]).status_code == 302
    taken = logged_in_as(stack, session)
    assert taken.startswith("prof1-") and taken != "prof1"  # prof1 is accounts.csv's teacher

    key, secret = stack.exec("hubsetup", "lti", "passport").stdout.strip().split(":")[1:]
    lti11 = client("browser")
    params = edx.launch_params(stack.url + "/hub/lti/launch", key, secret, username="ada13")
    assert lti11.launch(params).status_code == 302
    assert logged_in_as(stack, lti11) not in (None, "ada13")


@pytest.mark.parametrize("attack", ["another key", "alg none", "wrong deployment", "replayed", "made-up state"])
def test_bad_launches_are_refused_create_nothing_and_the_log_says_why(stack, client, platform, attack):
    session = client("browser")
    request = begin(stack, session, platform)
    claims = platform.claims(request["nonce"], sub=f"sub-{attack}", preferred_username="intruder")
    state = request["state"]
    if attack == "another key":
        stranger = Platform(platform.issuer)
        token = platform.id_token(claims, key=stranger.keys[stranger.kid])
    elif attack == "alg none":
        import jwt

        token = jwt.encode(claims, None, algorithm="none", headers={"kid": platform.kid})
    elif attack == "wrong deployment":
        token = platform.id_token({**claims, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "other"})
    else:
        token = platform.id_token(claims)
        if attack == "replayed":
            assert launch(stack, client("browser"), token, state).status_code == 302
        else:
            state = "made-up"
    before = users(stack)
    reply = launch(stack, session, token, state)
    assert reply.status_code in (400, 401), (reply.status_code, reply.text[:300])
    assert users(stack) == before and logged_in_as(stack, session) is None
    assert "LTI 1.3 launch refused" in stack.logs()


def test_the_hub_publishes_its_keyset_and_the_urls_an_lms_admin_pastes(stack, client):
    session = client("browser")
    keyset = session.get(stack.url + "/hub/lti13/jwks").json()
    [key] = keyset["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and "d" not in key
    config = session.get(stack.url + "/hub/lti13/config").json()
    assert config["oidc_initiation_url"] == stack.url + "/hub/lti13/login"
    assert config["redirect_uris"] == [stack.url + "/hub/lti13/launch"]
    assert config["jwks_uri"] == stack.url + "/hub/lti13/jwks"
    assert stack.exec("sh", "-c", "stat -c %a /srv/jupyterhub/state/lti13_tool_key.pem").stdout.strip() == "600"


def course_of(stack, platform):
    [(course,)] = ast.literal_eval(registry_rows(stack, "SELECT course FROM lti_contexts WHERE consumer_key = ?",
                                                 f"lti13|{platform.issuer}|{platform.client_id}"))
    return course


def launched(stack, client, platform, sub, username, **claims):
    """The session of a platform user after a launch, their server started."""
    session = client("browser")
    request = begin(stack, session, platform)
    reply = launch(stack, session, platform.id_token(platform.claims(request["nonce"], sub=sub,
                                                                     preferred_username=username, **claims)),
                   request["state"])
    assert reply.status_code == 302, (reply.status_code, reply.text[:300])
    session.login = logged_in_as(stack, session)
    session.start_server()
    return session


def test_scores_of_an_nbgrader_cycle_reach_the_platforms_line_item(stack, client, platform):
    """The launch declared a line item (a graded link); `hubsetup grades push` sends each
    score there with one access token, as LTI 1.1's go to the outcome service."""
    graded = {"custom": {"assignment": "ps1"}, "line_item": line_item(KEYSET_PORT, "ps1")}
    teacher = launched(stack, client, platform, "sub-prof", "prof13", roles=[INSTRUCTOR])
    right = launched(stack, client, platform, "sub-right", "right13", **graded)
    wrong = launched(stack, client, platform, "sub-wrong", "wrong13", **graded)
    # a link that declares no line item, only where the tool may make one
    made = launched(stack, client, platform, "sub-made", "made13", custom={"assignment": "ps1"},
                    line_items=line_items(KEYSET_PORT))
    course = course_of(stack, platform)
    nbgrader_cycle.teacher_creates_and_releases(teacher, course, "ps1")
    for student, answer in ((right, nbgrader_cycle.RIGHT), (wrong, nbgrader_cycle.WRONG), (made, nbgrader_cycle.RIGHT)):
        nbgrader_cycle.student_answers_and_submits(student, course, "ps1", answer)
    scores = nbgrader_cycle.teacher_grades_and_returns_feedback(teacher, "ps1", [right.login, wrong.login, made.login])
    pushed = stack.exec("hubsetup", "grades", "push", "--course", course, "--assignment", "ps1", check=False).stdout
    assert "3 sent" in pushed.splitlines()[-1], pushed
    stack.exec("hubsetup", "grades", "push", "--course", course, "--assignment", "ps1")  # again: a later timestamp
    record = json.loads(stack.exec("cat", RECORD).stdout)
    taken = record["scores"]["ps1"]
    right_score, right_max = scores[right.login]
    wrong_score, wrong_max = scores[wrong.login]
    assert [s["scoreGiven"] for s in taken["sub-right"]] == [right_score / right_max] * 2
    assert [s["scoreGiven"] for s in taken["sub-wrong"]] == [wrong_score / wrong_max] * 2
    assert wrong_score < wrong_max
    assert [s["scoreGiven"] for s in taken["sub-made"]] == [1.0, 1.0]
    [column] = record["line_items"]  # made at the first push, found at the second
    assert (column["resourceId"], column["scoreMaximum"]) == ("ps1", right_max)
    # per push run: a token for scores and one for line items; timestamps always later
    assert record["tokens"] == 4 and record["refused"] == []


DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"


def deep_linking_request(stack, session, platform, roles):
    request = begin(stack, session, platform)
    claims = platform.claims(request["nonce"], sub="sub-prof", preferred_username="prof13", roles=roles, **{
        CLAIM + "message_type": "LtiDeepLinkingRequest", CLAIM + "resource_link": None,
        DEEP_LINKING_SETTINGS: {"deep_link_return_url": "https://lms13.example.org/deep_link_return",
                                "accept_types": ["ltiResourceLink"], "data": "csrf-d1"}})
    return launch(stack, session, platform.id_token(claims), request["state"])


def test_deep_linking_offers_the_courses_assignments_and_answers_the_lms_with_a_signed_link(stack, client, platform):
    """After the nbgrader cycle above: the teacher picks ps1 in the hub's page; the browser
    posts the hub's signed answer back to the LMS, with the assignment's points for its line item."""
    session = client("browser")
    page = deep_linking_request(stack, session, platform, [INSTRUCTOR])
    assert page.status_code == 200, (page.status_code, page.text[:300])
    offered = {name: (action, key) for action, key, kind, name in re.findall(
        r'<form method="post" action="([^"]+)"><input type="hidden" name="request" value="([^"]+)">'
        r'<input type="hidden" name="kind" value="(\w+)"><input type="hidden" name="name" value="([^"]+)">', page.text)}
    action, key = offered["ps1"]
    answer = session.post(action, data={"request": key, "kind": "assignment", "name": "ps1"})
    assert answer.status_code == 200 and 'action="https://lms13.example.org/deep_link_return"' in answer.text
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)
    keyset = jwt.PyJWKSet.from_dict(session.get(stack.url + "/hub/lti13/jwks").json())
    claims = jwt.decode(token, keyset[jwt.get_unverified_header(token)["kid"]].key, algorithms=["RS256"],
                        audience=platform.issuer)
    assert claims["iss"] == platform.client_id and claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "csrf-d1"
    [item] = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    # the gradebook is the teacher's: read as them
    points = stack.exec("sh", "-c", f"cd /srv/nbgrader/courses/{course_of(stack, platform)} && /opt/venv/bin/python3 -c "
                        "\"from nbgrader.api import Gradebook; print(Gradebook('sqlite:///gradebook.db')"
                        ".find_assignment('ps1').max_score)\"", user="prof13").stdout.strip()
    assert item["custom"] == {"assignment": "ps1"} and item["url"] == stack.url + "/hub/lti13/launch"
    assert item["lineItem"]["scoreMaximum"] == float(points) and item["lineItem"]["resourceId"] == "ps1"
    # the page's key answers once
    assert session.post(action, data={"request": key, "kind": "assignment", "name": "ps1"}).status_code == 400


def test_only_a_teacher_may_deep_link(stack, client, platform):
    before = users(stack)
    reply = deep_linking_request(stack, client("browser"), platform, [])
    assert reply.status_code == 403 and users(stack) == before


def test_the_roster_shows_who_has_never_launched(stack, client, platform):
    """Names and Role Provisioning: the course's members as the platform lists them (two pages),
    with the token the hub asks for the roster's scope."""
    session = client("browser")
    request = begin(stack, session, platform)
    token = platform.id_token(platform.claims(request["nonce"], sub="sub-ada", preferred_username="ada13",
                                              roster=memberships_url(KEYSET_PORT)))
    assert launch(stack, session, token, request["state"]).status_code == 302
    printed = stack.exec("hubsetup", "lti13", "roster", "--course", course_of(stack, platform)).stdout
    rows = {line.split("  ")[0].strip(): line for line in printed.splitlines()}
    assert rows["Ada Lovelace"].endswith("ada13") and rows["Marie Curie"].endswith("prof13")
    assert "teacher" in rows["Marie Curie"] and rows["Late Comer"].endswith("never launched")
    assert printed.splitlines()[-1] == "3 members, 2 launched, 1 never launched", printed
