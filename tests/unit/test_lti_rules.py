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


@pytest.mark.parametrize("custom, target", [
    ({"custom_lesson": "lesson1.ipynb"}, "/hub/user-redirect/open/lesson/c1/lesson1.ipynb"),
    ({"custom_lesson": "week 2/prices.ipynb"}, "/hub/user-redirect/open/lesson/c1/week%202/prices.ipynb"),
    ({"custom_assignment": "ps1"}, "/hub/user-redirect/open/assignment/c1/ps1"),
    ({"custom_lesson": "lesson1.ipynb", "custom_assignment": "ps1"}, "/hub/user-redirect/open/lesson/c1/lesson1.ipynb"),
    ({}, None),
])
def test_a_launch_names_its_lesson_or_assignment_and_the_students_server_opens_it(custom, target):
    assert rules.launch_target(custom, "/hub/", "c1", None) == target


def test_a_next_into_the_file_tree_is_checked_first_and_any_other_next_is_kept():
    assert rules.launch_target({"custom_assignment": "ps1"}, "/hub/", "c1", "/hub/user-redirect/lab/tree/a/b.ipynb") \
        == "/hub/user-redirect/open/file/a/b.ipynb"
    pull = "/hub/user-redirect/git-pull?repo=x&urlpath=lab/tree/x/a.ipynb"
    assert rules.launch_target({}, "/hub/", "c1", pull) == pull


@pytest.mark.parametrize("custom, field", [
    ({"custom_lesson": "../../etc/passwd"}, "custom_lesson"),
    ({"custom_lesson": "/etc/passwd/"}, None),
    ({"custom_lesson": "a/./b"}, "custom_lesson"),
    ({"custom_assignment": "../ps1"}, "custom_assignment"),
    ({"custom_assignment": "ps1;rm"}, "custom_assignment"),
])
def test_lessons_and_assignments_no_course_could_have_are_refused_before_login(custom, field):
    if field is None:  # a leading slash is only a path from the course's materials
        assert rules.launch_target(custom, "/hub/", "c1", None) == "/hub/user-redirect/open/lesson/c1/etc/passwd"
        return
    with pytest.raises(rules.LaunchError, match=field):
        rules.check_target_fields(custom)
