"""accounts.csv parsing and validation (pure functions, no system changes)."""

import pytest

from hubsetup import passwords
from hubsetup.accounts import AccountsError, courses_of, parse

SEED = "prof1;wawa;1\neleve1;secret\n"


def problems_of(text, **kwargs):
    with pytest.raises(AccountsError) as error:
        parse(text, **kwargs)
    return error.value.problems


def test_seed_format_gives_teacher_and_student():
    prof, student = parse(SEED)
    assert (prof.login, prof.password, prof.teacher) == ("prof1", "wawa", True)
    assert (student.login, student.teacher) == ("eleve1", False)


def test_header_comments_and_blank_lines_are_skipped():
    text = "# who may log in\n\nlogin;password;teacher;courses\nprof1;wawa;1\n"
    assert [a.login for a in parse(text)] == ["prof1"]


def test_header_is_only_recognised_before_the_first_account():
    problems = problems_of("prof1;wawa;1\nlogin;password;teacher\n")
    assert problems == ["line 2: teacher flag 'teacher' must be 1 (teacher) or 0/empty (student)"]


def test_crypt_hash_is_accepted_as_password():
    hashed = passwords.hash_password("wawa")
    (account,) = parse(f"prof1;{hashed};1\n")
    assert account.password_is_hash and passwords.verify("wawa", account.password)


def test_every_bad_line_is_reported_with_its_number():
    text = "\n".join([
        "prof1;wawa;1",
        "Prof2;x;1",          # uppercase
        "9lives;x",           # starts with a digit
        "eleve1;",            # empty password
        "eleve2;pw;2",        # bad flag
        "prof1;other",        # duplicate
        "root;pw",            # system account
        "a" * 33 + ";pw",     # too long
        "onlyone",            # too few fields
        "x,y,z",              # wrong separator
        "eleve3;$6$broken",   # not a usable hash
        "eleve4;pw;0;Bad Course!",
    ])
    problems = problems_of(text)
    assert [p.split(":")[0] for p in problems] == [f"line {n}" for n in range(2, 13)] + ["line 12"]
    assert "use 'prof2'" in problems[0]
    assert "already appears on line 1" in problems[4]
    assert "system account" in problems[5]
    assert "separated by ';'" in problems[8]
    assert "crypt hash" in problems[9]


def test_logins_of_the_system_are_refused():
    assert "system account" in problems_of("www-data;pw\n", system_logins={"www-data"})[0]


def test_quoted_password_may_contain_separator():
    (account,) = parse('eleve1;"pa;ss"\n')
    assert account.password == "pa;ss"


def test_error_message_names_file_and_says_nothing_changed():
    with pytest.raises(AccountsError) as error:
        parse("bad name;pw\n", path="/x/accounts.csv")
    assert str(error.value).startswith("/x/accounts.csv: 1 problem(s), nothing was changed")


def test_course_defaults_teacher_own_course_students_join_all_taught():
    rows = parse("prof1;a;1\nprof2;b;1;algebra\neleve1;c\neleve2;d;0;algebra\n")
    assert courses_of(rows) == {
        "prof1": ["cours_prof1"],
        "prof2": ["algebra"],
        "eleve1": ["algebra", "cours_prof1"],
        "eleve2": ["algebra"],
    }


def test_a_name_column_gives_real_names_in_any_script_quoted_when_it_holds_a_separator():
    text = 'login;password;teacher;courses;name\nprof1;pw;1;;王老师\neleve1;pw;;;"Dupont; Marie-Hélène"\neleve2;pw\n'
    prof, eleve1, eleve2 = parse(text)
    assert (prof.name, eleve1.name, eleve2.name) == ("王老师", "Dupont; Marie-Hélène", "")


def test_a_bad_name_or_a_sixth_field_is_reported_by_line():
    text = "a;pw;;;" + "x" * 201 + '\nb;pw;;;Eve\tRoot\nc;pw;;;Marie; Dupont\n'
    problems = problems_of(text)
    assert problems[0].startswith("line 1: name 'xxx") and "longer than 200" in problems[0]
    assert problems[1].startswith("line 2: name 'Eve\\tRoot'") and "control characters" in problems[1]
    assert problems[2].startswith("line 3: expected") and "double quotes" in problems[2]
