"""Grade passback over real HTTP on loopback, against our test LMS outcome service."""

import pytest

from hubsetup.lti import lti11_outcomes as outcomes
from harness.lms_outcomes import OutcomeService


@pytest.fixture
def lms():
    service = OutcomeService({"key1": "secret1"}).start()
    yield service
    service.stop()


def test_score_is_signed_with_body_hash_and_recorded(lms):
    outcome = outcomes.send_score(lms.url, "key1", "secret1", "course:block:student1", 0.5)
    assert outcome.ok, outcome.detail
    assert lms.scores == {"course:block:student1": 0.5}


def test_wrong_secret_is_a_failure_even_with_http_200(lms):
    outcome = outcomes.send_score(lms.url, "key1", "not-the-secret", "s", 1.0)
    assert not outcome.ok and "signature does not verify" in outcome.detail
    assert lms.scores == {}


def test_refused_sourcedid_is_reported_with_the_lms_reason(lms):
    outcome = outcomes.send_score(lms.url, "key1", "secret1", "reject-me", 1.0)
    assert not outcome.ok and "sourcedid is not in this course" in outcome.detail


def test_transient_failure_is_retried(lms):
    outcome = outcomes.send_score(lms.url, "key1", "secret1", "flaky-1", 0.25, backoff=0.01)
    assert outcome.ok and outcome.attempts == 2
    assert lms.scores == {"flaky-1": 0.25}


def test_unreachable_lms_fails_after_retries():
    outcome = outcomes.send_score("http://127.0.0.1:9/outcomes", "k", "s", "x", 1.0, attempts=2, backoff=0.01)
    assert not outcome.ok and "after 2 attempts" in outcome.detail


def test_sourcedid_is_escaped_and_score_bounded():
    assert "<sourcedId>a&amp;b&lt;c</sourcedId>" in outcomes.replace_result_xml("a&b<c", 1.0)
    with pytest.raises(ValueError):
        outcomes.replace_result_xml("x", 1.5)


def test_reply_without_code_is_unreadable():
    assert outcomes.parse_reply("<html>Server error</html>")[0] == "unreadable"
    assert outcomes.parse_reply("not xml")[0] == "unreadable"
