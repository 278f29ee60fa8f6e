"""Which students' names go to which gradebook, and when (the writing itself, as an instructor
through nbgrader, is performed in tests/integration/test_grades.py and test_nbgrader.py)."""

import os
import threading

import pytest

from hubsetup import gradebook_names, gradebook_writer, registry

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sync chowns homes: needs root")

ACCOUNTS = "prof1;pw;1;;王老师\neleve1;pw;;;Marie-Hélène Dupont\neleve2;pw\n"


def plan_of(site, course="cours_prof1"):
    with registry.connect(site.settings.registry_path, write=False) as db:
        return gradebook_names.plan(db, site.settings, course)


def test_only_named_students_are_planned_with_nbgraders_first_and_last_names(site):
    site.sync(ACCOUNTS)
    students, _ = plan_of(site)
    assert students == [["eleve1", "Marie-Hélène", "Dupont"]]  # the teacher is no student of it


def test_the_digest_changes_with_a_name_and_with_a_gradebook_written_or_made_anew(site):
    site.sync(ACCOUNTS)
    _, first = plan_of(site)
    site.sync(ACCOUNTS.replace("Marie-Hélène", "Marie"))
    _, renamed = plan_of(site)
    gradebook = site.tmp / "courses" / "cours_prof1" / "gradebook.db"
    gradebook.write_bytes(b"")
    _, with_gradebook = plan_of(site)
    gradebook.unlink()
    gradebook.write_bytes(b"x")  # deleted and made again: perhaps with the same inode number
    _, made_anew = plan_of(site)
    assert len({first, renamed, with_gradebook, made_anew}) == 4
    assert plan_of(site)[1] == made_anew


def test_the_writer_reads_which_names_a_gradebook_lacks_without_nbgrader(tmp_path):
    import sqlite3

    path = tmp_path / "gradebook.db"
    students = [["eleve1", "Marie", "Dupont"], ["zhangsan", "", "张三"]]
    assert gradebook_writer.names_to_write(str(path), students) == students  # no gradebook yet
    path.write_bytes(b"")
    assert gradebook_writer.names_to_write(str(path), students) == students  # no tables yet
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE student (id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT)")
    db.execute("INSERT INTO student VALUES ('eleve1', 'Marie', 'Dupont'), ('zhangsan', NULL, NULL)")
    db.commit()
    assert gradebook_writer.names_to_write(str(path), students) == [["zhangsan", "", "张三"]]


def test_a_course_without_instructors_waits_and_one_with_nothing_new_is_not_written(site, monkeypatch):
    written = []
    monkeypatch.setattr(gradebook_names, "write_as", lambda *args: written.append(args[1]) or "written")
    site.launch_in("张三", "course-v1:X+Y+Z", name="张三")
    assert gradebook_names.refresh(site.settings) == {"course-v1-x-y-z": "no instructor yet: names wait for one"}
    site.launch_in("teacher", "course-v1:X+Y+Z", instructor=True)
    assert gradebook_names.refresh(site.settings) == {"course-v1-x-y-z": "written"}
    assert gradebook_names.refresh(site.settings) == {}  # recorded: nothing to write again
    assert written == ["course-v1-x-y-z"]


def test_a_burst_of_launches_writes_each_course_once(site, monkeypatch):
    calls, done = [], threading.Event()
    monkeypatch.setattr(gradebook_names, "refresh", lambda settings, courses: calls.append(set(courses)) or done.set())
    batcher = gradebook_names.LaunchBatcher(lambda: site.settings, delay=0.2)
    for course in ("a", "b", "a", "a"):
        batcher.add(course)
    assert done.wait(5) and calls == [{"a", "b"}]
    done.clear()
    batcher.add("c")
    assert done.wait(5) and calls == [{"a", "b"}, {"c"}]
