"""LTI 1.3 services against a platform of our own on loopback: scores (Assignment and Grade
Services) and the roster (Names and Role Provisioning). Its token endpoint checks the hub's
signed assertion against the hub's published keyset; its scores endpoint checks the token and
the score and records what it took; its roster comes in pages."""

import json

import pytest

from harness.lti13_platform import Platform, line_item, serve_platform
from hubsetup.lti import lti13_keys, lti13_platforms, lti13_scores
from hubsetup.lti.lti11_outcomes import FAILED, NOT_SCORED

PORT = 19_872
MEMBERS = [
    {"user_id": "sub-ada", "name": "Ada Lovelace", "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]},
    {"user_id": "sub-prof", "name": "Marie Curie",
     "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]},
    {"user_id": "sub-late", "name": "Late Comer", "roles": ["Learner"]},
    {"user_id": "sub-gone", "name": "Gone Away", "roles": ["Learner"], "status": "Inactive"},
]


@pytest.fixture
def lms(tmp_path):
    """(platform, registration, record reader, state dir): a platform taking scores from the hub."""
    state = tmp_path / "state"
    platform = Platform("https://lms.example.org", port=PORT)
    (tmp_path / "jwks.json").write_text(json.dumps(platform.keyset()))
    (tmp_path / "tool.json").write_text(json.dumps(lti13_keys.keyset(str(state))))
    (tmp_path / "members.json").write_text(json.dumps(MEMBERS))
    server = serve_platform(PORT, str(tmp_path / "jwks.json"), str(tmp_path / "record.json"),
                            str(tmp_path / "tool.json"), platform.client_id, str(tmp_path / "members.json"))
    registration = lti13_platforms.add_platform(str(state), lti13_platforms.Platform(
        platform.issuer, platform.client_id, ["1"], platform.keyset_url, platform.login_url, platform.token_url))
    yield registration, lambda: json.loads((tmp_path / "record.json").read_text()), str(state), tmp_path
    server.shutdown()
    server.server_close()


def sender(state):
    return lti13_scores.LTI13Sender(state, tokens=lti13_scores.AccessTokens(), timestamps=lti13_scores.Timestamps())


def launch(registration, user="sub-1", item="ps1"):
    return {"consumer_key": registration.key, "score_url": line_item(PORT, item), "score_for": user}


def test_scores_reach_the_line_item_with_one_token_and_later_timestamps(lms):
    registration, recorded, state, _ = lms
    scores = sender(state)
    assert scores.cannot_send(launch(registration)) is None
    assert scores.send(launch(registration), 0.75).ok
    assert scores.send(launch(registration), 1.0).ok
    assert scores.send(launch(registration, user="sub-2"), 0.0).ok
    record = recorded()
    assert record["tokens"] == 1 and record["refused"] == []
    taken = record["scores"]["ps1"]
    assert [(s["scoreGiven"], s["scoreMaximum"]) for s in taken["sub-1"]] == [(0.75, 1.0), (1.0, 1.0)]
    assert taken["sub-1"][0]["timestamp"] < taken["sub-1"][1]["timestamp"]
    assert taken["sub-2"][0]["gradingProgress"] == "FullyGraded"


def test_a_token_the_platform_forgot_is_asked_for_again(lms):
    registration, recorded, state, tmp_path = lms
    scores = sender(state)
    assert scores.send(launch(registration), 0.5).ok
    # the platform restarts: its tokens are gone
    record_file = str(tmp_path / "record.json")
    lms_again = Platform(registration.issuer, port=PORT + 1)
    server = serve_platform(PORT + 1, str(tmp_path / "jwks.json"), record_file, str(tmp_path / "tool.json"),
                            registration.client_id)
    try:
        moved = lti13_platforms.Platform(registration.issuer, registration.client_id, ["1"], lms_again.keyset_url,
                                         lms_again.login_url, lms_again.token_url)
        lti13_platforms.add_platform(state, moved, replace=True)
        scores = lti13_scores.LTI13Sender(state, tokens=scores.tokens)  # the old token, cached
        sent = scores.send(dict(launch(registration), score_url=line_item(PORT + 1, "ps1")), 0.5)
        assert sent.ok, sent.detail
        assert recorded()["tokens"] == 1 and "no valid access token" in recorded()["refused"][0]
    finally:
        server.shutdown()
        server.server_close()


def test_a_tool_whose_key_the_platform_does_not_know_gets_no_token_and_says_so(lms):
    registration, recorded, state, tmp_path = lms
    (tmp_path / "tool.json").write_text(json.dumps(Platform("x").keyset()))  # another key entirely
    sent = sender(state).send(launch(registration), 0.5)
    assert not sent.ok and "refused an access token: HTTP 401" in sent.detail
    assert "client assertion refused" in recorded()["refused"][0]


def test_launches_that_cannot_be_scored_say_why(lms):
    registration, _, state, _ = lms
    scores = sender(state)
    assert scores.cannot_send(dict(launch(registration), score_url=""))[0] == NOT_SCORED
    status, why = scores.cannot_send(dict(launch(registration), consumer_key="lti13|https://gone|c"))
    assert status == FAILED and "no longer registered" in why


@pytest.mark.parametrize("endpoint, found", [
    ({"scope": [lti13_scores.SCORE_SCOPE], "lineitem": "https://lms.example.org/li/1"}, "https://lms.example.org/li/1"),
    ({"scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"], "lineitem": "https://l/li/1"}, ""),
    ({"scope": [lti13_scores.SCORE_SCOPE]}, ""),
    ({"scope": [lti13_scores.SCORE_SCOPE], "lineitem": "http://elsewhere.example.org/li/1"}, ""),
    ({"scope": lti13_scores.SCORE_SCOPE, "lineitem": "https://lms.example.org/li/1"}, ""),
    ("not a dict", ""),
])
def test_the_line_item_is_taken_only_where_the_platform_allows_scores(endpoint, found):
    assert lti13_scores.line_item_of({lti13_scores.AGS_CLAIM: endpoint}) == found


def test_the_scores_endpoint_keeps_the_line_items_query():
    assert lti13_scores.scores_url("https://lms/c/1/lineitems/7/lineitem?type_id=3") == \
        "https://lms/c/1/lineitems/7/lineitem/scores?type_id=3"
    assert lti13_scores.scores_url("https://lms/li/7/") == "https://lms/li/7/scores"


def test_the_roster_is_read_page_by_page_and_shows_who_never_launched(lms):
    from harness.lti13_platform import memberships_url
    from hubsetup.lti import lti13_roster

    registration, recorded, state, _ = lms
    listed = lti13_roster.members(state, registration, memberships_url(PORT), tokens=lti13_scores.AccessTokens())
    assert [m["user_id"] for m in listed] == ["sub-ada", "sub-prof", "sub-late", "sub-gone"]  # two pages
    lines = lti13_roster.table(listed, {"sub-ada": "ada13", "sub-prof": "prof13"})
    assert lines[-1] == "4 members, 2 launched, 2 never launched"
    rows = {line.split("  ")[0].strip(): line for line in lines[1:-1]}
    assert "teacher" in rows["Marie Curie"] and rows["Marie Curie"].endswith("prof13")
    assert rows["Late Comer"].endswith("never launched") and rows["Gone Away"].endswith("(Inactive)")
    assert recorded()["tokens"] == 1


def test_a_roster_without_a_token_of_its_scope_is_refused(lms):
    from harness.lti13_platform import memberships_url
    from hubsetup.lti import lti13_roster

    registration, _, state, _ = lms
    tokens = lti13_scores.AccessTokens()
    scope_of_scores = tokens.token(state, registration, lti13_scores.SCORE_SCOPE)
    tokens.tokens[(registration.key, lti13_roster.ROSTER_SCOPE)] = (scope_of_scores, 10 ** 12)
    with pytest.raises(lti13_roster.RosterError, match="HTTP 401"):
        lti13_roster.members(state, registration, memberships_url(PORT), tokens=tokens)


@pytest.mark.parametrize("service, found", [
    ({"context_memberships_url": "https://lms.example.org/m", "service_versions": ["2.0"]}, "https://lms.example.org/m"),
    ({"context_memberships_url": "http://elsewhere.example.org/m"}, ""),
    ({"service_versions": ["2.0"]}, ""),
    ([], ""),
])
def test_the_roster_url_is_taken_from_the_launch_only_when_it_is_one(service, found):
    from hubsetup.lti import lti13_roster

    assert lti13_roster.roster_url_of({lti13_roster.NRPS_CLAIM: service}) == found


def test_a_link_without_a_line_item_gets_one_made_once_with_the_assignments_points(lms):
    from harness.lti13_platform import line_items

    registration, recorded, state, _ = lms
    scores = sender(state)
    lti13_scores.LINE_ITEMS.clear()
    made = {"consumer_key": registration.key, "score_url": "", "line_items_url": line_items(PORT), "score_for": "sub-1",
            "assignment": "ps3", "resource_link_id": "block-3", "assignment_points": 4.0}
    assert scores.cannot_send(made) is None and "found or made" in scores.destination(made)
    assert scores.send(made, 0.5).ok
    lti13_scores.LINE_ITEMS.clear()  # another process: the line item is found, not made again
    assert scores.send(dict(made, score_for="sub-2"), 1.0).ok
    record = recorded()
    assert [(item["resourceId"], item["scoreMaximum"], item["resourceLinkId"]) for item in record["line_items"]] == [
        ("ps3", 4.0, "block-3")]
    assert {user: [s["scoreGiven"] for s in sent] for user, sent in record["scores"]["ps3"].items()} == {
        "sub-1": [0.5], "sub-2": [1.0]}
    assert record["refused"] == []


@pytest.fixture
def odd_platform(lms):
    """A second server on loopback answering whatever each test tells it (and a Link header)."""
    import http.server
    import threading

    answers = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self):
            status, body, link = answers.get(self.path.split("?")[0], (404, {}, None))
            data = json.dumps(body).encode()
            self.send_response(status)
            if link:
                self.send_header("Link", f'<{link}>; rel="next"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield lms, answers, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("container", [None, 5, {"id": "x"}])
def test_line_items_that_are_not_a_list_fail_that_score_only(odd_platform, container):
    (registration, _, state, _), answers, odd = odd_platform
    answers["/lineitems"] = (200, container, None)
    lti13_scores.LINE_ITEMS.clear()
    launch = {"consumer_key": registration.key, "score_url": "", "line_items_url": odd + "/lineitems",
              "score_for": "sub-1", "assignment": "ps4", "resource_link_id": "b", "assignment_points": 1.0}
    sent = sender(state).send(launch, 0.5)
    assert not sent.ok and "not a list of line items" in sent.detail


def test_a_roster_that_is_odd_or_points_elsewhere_is_refused(odd_platform):
    from hubsetup.lti import lti13_roster

    (registration, _, state, _), answers, odd = odd_platform
    tokens = lti13_scores.AccessTokens()
    answers["/null"] = (200, {"members": None}, None)
    with pytest.raises(lti13_roster.RosterError, match="not a membership container"):
        lti13_roster.members(state, registration, odd + "/null", tokens=tokens)
    answers["/leaks"] = (200, {"members": []}, "http://192.0.2.1:9/next")
    with pytest.raises(lti13_roster.RosterError, match="points its next page elsewhere"):
        lti13_roster.members(state, registration, odd + "/leaks", tokens=tokens)
    answers["/loop"] = (200, {"members": [{"user_id": "u1"}]}, odd + "/loop")  # a page naming itself next
    assert [m["user_id"] for m in lti13_roster.members(state, registration, odd + "/loop", tokens=tokens)] == ["u1"]
