"""LTI launch rules: required fields, safe `next`, roles, and LMS names made Linux names."""

import pytest

from hubsetup import lti
from hubsetup.accounts import login_problem

VALID = {"lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0",
         "resource_link_id": "block-v1:DemoX+DS101+2026_T1+type@lti_consumer+block@abc", "user_id": "f00d"}


@pytest.mark.parametrize("missing", lti.REQUIRED)
def test_launch_without_required_field_is_refused(missing):
    with pytest.raises(lti.LaunchError) as error:
        lti.check_launch({k: v for k, v in VALID.items() if k != missing})
    assert error.value.status == 400 and missing in str(error.value)


@pytest.mark.parametrize("field,value", [("lti_version", "LTI-2p0"), ("lti_message_type", "ContentItemSelectionRequest")])
def test_launch_of_other_kind_is_refused(field, value):
    with pytest.raises(lti.LaunchError, match=field):
        lti.check_launch(dict(VALID, **{field: value}))


@pytest.mark.parametrize("next_url,expected", [
    ("/hub/user-redirect/lab/tree/ps1.ipynb", "/hub/user-redirect/lab/tree/ps1.ipynb"),
    ("https://hub.school.edu/hub/user-redirect/lab?x=1", "/hub/user-redirect/lab?x=1"),
    ("", None),
])
def test_next_on_this_hub_is_kept(next_url, expected):
    assert lti.safe_next(next_url, "/", "hub.school.edu") == expected


@pytest.mark.parametrize("next_url", [
    "https://evil.example/phish", "//evil.example/x", "javascript:alert(1)", "/\\evil.example",
    "http://hub.school.edu.evil.example/", "hub/relative", "/hub/../../etc",
])
def test_next_off_this_hub_is_refused(next_url):
    with pytest.raises(lti.LaunchError):
        lti.safe_next(next_url, "/", "hub.school.edu")


def test_next_must_stay_under_base_url():
    with pytest.raises(lti.LaunchError):
        lti.safe_next("/other/app", "/jupyter/", "h")
    assert lti.safe_next("/jupyter/hub/home", "/jupyter/", "h") == "/jupyter/hub/home"


@pytest.mark.parametrize("roles,instructor", [
    ("Instructor", True), ("Administrator", True), ("Student,Learner", False), ("Learner", False),
    ("urn:lti:role:ims/lis/Instructor", True), ("urn:lti:instrole:ims/lis/Administrator", True),
    ("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor", True),
    ("urn:lti:role:ims/lis/TeachingAssistant", True), ("", False), ("Guest", False),
])
def test_roles(roles, instructor):
    assert lti.is_instructor(roles) is instructor


@pytest.mark.parametrize("raw", [
    "JohnDoe", "3f2a9c0d1e4b5a6978877665544332211", "Jean Dupont", "élève", "", "a" * 60, "..", "root",
])
def test_linux_names_are_valid_logins(raw):
    name = lti.linux_name(raw)
    assert login_problem(name) in (None, f"login {name!r} is a system account")
    assert len(name) <= 32 and name[0].isalpha()


def test_long_names_stay_distinct():
    assert lti.linux_name("x" * 40 + "a") != lti.linux_name("x" * 40 + "b")


def test_candidates_differ_from_the_taken_name():
    first, second, third = [name for name, _ in zip(lti.candidate_logins("prof1", "hub-key"), range(3))]
    assert first == "prof1" and len({first, second, third}) == 3 and second.startswith("prof1-")


def test_later_candidates_cannot_be_worked_out_without_the_hubs_key():
    ours = list(lti.candidate_logins("prof1", "hub-key"))[1:]
    guessed = list(lti.candidate_logins("prof1", "another-key"))[1:]
    assert not set(ours) & set(guessed)


def test_course_name_from_edx_context():
    assert lti.course_name("course-v1:DemoX+DS101+2026_T1") == "course-v1-demox-ds101-2026_t1"
    long = lti.course_name("course-v1:" + "VeryLongOrganisation" * 3 + "+X+Y")
    assert len(long) <= 40


def test_passport_and_consumers_file(tmp_path):
    key, secret = lti.new_consumer(str(tmp_path))
    assert lti.load_consumers(str(tmp_path)) == {key: secret}
    assert lti.passport("jupyter01", key, secret) == f"jupyter01:{key}:{secret}"
    assert (tmp_path / lti.CONSUMERS_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="':'"):
        lti.passport("a:b", key, secret)
    assert lti.all_consumers(str(tmp_path), {"env": "s"}) == {key: secret, "env": "s"}


def test_a_launch_posted_from_another_site_is_refused_where_lms_origins_are_known():
    lms = ["https://courses.example.org"]
    lti.check_origin("https://courses.example.org", lms, "https://hub.school.edu")
    lti.check_origin(None, lms, "https://hub.school.edu")  # a browser that does not say
    lti.check_origin("https://evil.example", [], "https://hub.school.edu")  # New Window LMS, none listed
    with pytest.raises(lti.LaunchError) as error:
        lti.check_origin("https://evil.example", lms, "https://hub.school.edu")
    assert error.value.status == 403
