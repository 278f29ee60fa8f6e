"""People's real names: what is kept, how nbgrader gets first and last names, what is refused."""

import pytest

from hubsetup.person_names import PersonName, person_name, shown_with_login


def test_a_name_is_kept_as_given_in_any_script_with_its_spaces_tidied():
    assert person_name("  张三 ") == PersonName(full="张三")
    assert person_name("Marie-Hélène   Dupont").shown == "Marie-Hélène Dupont"
    assert person_name("", "Sān", "Zhāng").shown == "Sān Zhāng"
    assert person_name("زهرا\u200cسادات").full == "زهرا\u200cسادات"  # Persian keeps its ZWNJ


@pytest.mark.parametrize("name, first_last", [
    (PersonName(full="张三"), ("", "张三")),                     # no space: nbgrader shows it whole
    (PersonName(full="Marie-Hélène Dupont"), ("Marie-Hélène", "Dupont")),
    (PersonName(full="Jean de La Fontaine"), ("Jean de La", "Fontaine")),
    (PersonName(full="张三", given="三", family="张"), ("三", "张")),  # the LMS's parts win
])
def test_nbgrader_gets_first_and_last_names(name, first_last):
    assert name.first_last() == first_last


@pytest.mark.parametrize("bad", ["Eve\nroot", "Eve\x00", "x" * 201, "Eve\u202eevE", "a\u2028b"])
def test_what_no_name_has_is_refused_logged_and_the_login_shown_instead(bad, caplog):
    name = person_name(bad, who="LTI user 42")
    assert not name and name.shown == ""
    assert "LTI user 42" in caplog.text and "the login is shown instead" in caplog.text
    assert shown_with_login("u42", name.shown) == "u42"


def test_the_name_is_shown_beside_the_login_when_it_says_more():
    assert shown_with_login("zhangsan", "张三") == "zhangsan (张三)"
    assert shown_with_login("prof1", "prof1") == "prof1"
