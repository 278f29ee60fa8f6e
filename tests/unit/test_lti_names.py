"""LMS names made Linux logins and nbgrader course ids."""

import pytest

from hubsetup.accounts import login_problem
from hubsetup.lti import names


@pytest.mark.parametrize("raw", [
    "JohnDoe", "3f2a9c0d1e4b5a6978877665544332211", "Jean Dupont", "élève", "", "a" * 60, "..", "root",
])
def test_linux_names_are_valid_logins(raw):
    name = names.linux_name(raw)
    assert login_problem(name) in (None, f"login {name!r} is a system account")
    assert len(name) <= 32 and name[0].isalpha()


def test_long_names_stay_distinct():
    assert names.linux_name("x" * 40 + "a") != names.linux_name("x" * 40 + "b")


def test_candidates_differ_from_the_taken_name():
    first, second, third = [name for name, _ in zip(names.candidate_logins("prof1", "hub-key"), range(3))]
    assert first == "prof1" and len({first, second, third}) == 3 and second.startswith("prof1-")


def test_later_candidates_cannot_be_worked_out_without_the_hubs_key():
    ours = list(names.candidate_logins("prof1", "hub-key"))[1:]
    guessed = list(names.candidate_logins("prof1", "another-key"))[1:]
    assert not set(ours) & set(guessed)


def test_course_name_from_edx_context():
    assert names.course_name("course-v1:DemoX+DS101+2026_T1") == "course-v1-demox-ds101-2026_t1"
    long = names.course_name("course-v1:" + "VeryLongOrganisation" * 3 + "+X+Y")
    assert len(long) <= 40
