"""Launch rules every protocol shares: a safe `next`, the sites that may post, roles."""

import pytest

from hubsetup.lti import rules


@pytest.mark.parametrize("next_url,expected", [
    ("/hub/user-redirect/lab/tree/ps1.ipynb", "/hub/user-redirect/lab/tree/ps1.ipynb"),
    ("https://hub.school.edu/hub/user-redirect/lab?x=1", "/hub/user-redirect/lab?x=1"),
    ("", None),
])
def test_next_on_this_hub_is_kept(next_url, expected):
    assert rules.safe_next(next_url, "/", "hub.school.edu") == expected


@pytest.mark.parametrize("next_url", [
    "https://evil.example/phish", "//evil.example/x", "javascript:alert(1)", "/\\evil.example",
    "http://hub.school.edu.evil.example/", "hub/relative", "/hub/../../etc",
])
def test_next_off_this_hub_is_refused(next_url):
    with pytest.raises(rules.LaunchError):
        rules.safe_next(next_url, "/", "hub.school.edu")


def test_next_must_stay_under_base_url():
    with pytest.raises(rules.LaunchError):
        rules.safe_next("/other/app", "/jupyter/", "h")
    assert rules.safe_next("/jupyter/hub/home", "/jupyter/", "h") == "/jupyter/hub/home"


@pytest.mark.parametrize("roles,instructor", [
    ("Instructor", True), ("Administrator", True), ("Student,Learner", False), ("Learner", False),
    ("urn:lti:role:ims/lis/Instructor", True), ("urn:lti:instrole:ims/lis/Administrator", True),
    ("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor", True),
    ("urn:lti:role:ims/lis/TeachingAssistant", True), ("", False), ("Guest", False),
])
def test_roles(roles, instructor):
    assert rules.is_instructor(roles) is instructor


def test_a_launch_posted_from_another_site_is_refused_where_lms_origins_are_known():
    lms = ["https://courses.example.org"]
    rules.check_origin("https://courses.example.org", lms, "https://hub.school.edu")
    rules.check_origin(None, lms, "https://hub.school.edu")  # a browser that does not say
    rules.check_origin("https://evil.example", [], "https://hub.school.edu")  # New Window LMS, none listed
    with pytest.raises(rules.LaunchError) as error:
        rules.check_origin("https://evil.example", lms, "https://hub.school.edu")
    assert error.value.status == 403
