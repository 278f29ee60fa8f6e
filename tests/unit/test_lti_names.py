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


ANONYMOUS_ID = "3f2a9c0d1e4b5a6978877665544332211"


@pytest.mark.parametrize("raw, login", [
    ("张三", "zhangsan"),                              # Chinese, in pinyin
    ("Zhāng.Sān", "zhang.san"),                        # pinyin with tones
    ("marie-hélène.dupont", "marie-helene.dupont"),    # accented Latin
    ("Nguyễn Văn A", "nguyen-van-a"),
    ("Łukasz", "lukasz"),
    ("Иван Петров", "ivan-petrov"),                    # Cyrillic
    ("Σωκράτης", "sokratis"),                          # Greek
    ("محمد علي", "mhmd-ly"),                           # Arabic, its consonants
    ("やまだ たろう", "yamada-tarou"),                  # Japanese kana
    ("김철수", "gimcheolsu"),                           # Korean
    ("张三😀", "zhangsan"),                             # an emoji beside a name is left out
])
def test_names_in_any_script_become_readable_logins(raw, login):
    assert next(names.candidate_logins(raw, "hub-key", ANONYMOUS_ID)) == login
    assert login_problem(login) is None


@pytest.mark.parametrize("raw, why", [
    ("😀🎉", "no letter or digit"),
    ("x" * 201, "longer than 200"),
    ("eve\nroot:x:0:0", "control characters"),
    ("a\x00b", "control characters"),
])
def test_a_name_that_gives_no_login_falls_back_to_the_anonymous_id_and_says_why(raw, why, caplog):
    login = next(names.candidate_logins(raw, "hub-key", ANONYMOUS_ID))
    assert login == "u" + ANONYMOUS_ID[:12]
    assert why in caplog.text and "anonymous id" in caplog.text


def test_two_people_whose_names_read_alike_get_different_logins_by_the_keyed_suffix():
    first = list(names.candidate_logins("张三", "hub-key", "id-1"))[:3]
    second = list(names.candidate_logins("Zhang San", "hub-key", "id-2"))[:3]
    assert first[0] == "zhangsan" and second[0] == "zhang-san"
    same_reading = list(names.candidate_logins("章三", "hub-key", "id-3"))[:3]  # another 张三
    assert same_reading[0] == "zhangsan" and not set(first[1:]) & set(same_reading[1:])
