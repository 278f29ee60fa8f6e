"""Publishing a course's materials and delivering them into a student's home, with
nbgitpuller's promise (the same as the user, in a scratch folder; the users and permissions of
a real hub are in tests/integration/test_lessons.py)."""

import os

import pytest

from hubsetup import materials

# The published folder must be root's (the hub makes it): these tests run as root, like the
# hub's tests that provision.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the published folder is root's")


@pytest.fixture
def course(tmp_path):
    source, home = tmp_path / "materials", tmp_path / "home"
    published = tmp_path / "exchange" / "finance" / "materials" / "published"
    for folder in (source, published, home):
        folder.mkdir(parents=True)
    (source / "lesson1.ipynb").write_text("teacher v1")
    (source / "data").mkdir()
    (source / "data" / "prices.csv").write_text("day,price\n1,10\n")

    def publish():
        return materials.publish(str(source), str(published))

    def deliver():
        return materials.deliver(str(published), str(home), "finance")

    return source, home / "finance", publish, deliver


def test_a_first_delivery_brings_everything(course):
    source, mine, publish, deliver = course
    assert publish() == (2, 2, 0)
    assert deliver() == {"new": ["data/prices.csv", "lesson1.ipynb"], "updated": [], "kept": [], "failed": []}
    assert (mine / "lesson1.ipynb").read_text() == "teacher v1"
    assert deliver() == {"new": [], "updated": [], "kept": [], "failed": []}  # nothing new: stats only


def test_students_edits_are_kept_deleted_files_come_back_and_teacher_updates_arrive(course):
    source, mine, publish, deliver = course
    publish()
    deliver()
    (mine / "lesson1.ipynb").write_text("my answers")
    (mine / "data" / "prices.csv").unlink()
    (source / "lesson1.ipynb").write_text("teacher v2")
    (source / "lesson2.ipynb").write_text("lesson 2")
    settled = os.stat(source / "data" / "prices.csv").st_mtime - 10
    os.utime(source / "data" / "prices.csv", (settled, settled))
    os.utime(mine.parent.parent / "exchange" / "finance" / "materials" / "published" / "current" / "data" / "prices.csv",
             (settled, settled))
    assert publish() == (3, 2, 1)  # the CSV, unchanged, is linked from the previous snapshot
    report = deliver()
    assert report == {"new": ["data/prices.csv", "lesson2.ipynb"], "updated": [], "kept": ["lesson1.ipynb"],
                      "failed": []}
    assert (mine / "lesson1.ipynb").read_text() == "my answers"
    (source / "lesson2.ipynb").write_text("lesson 2, corrected")
    publish()
    assert deliver()["updated"] == ["lesson2.ipynb"]
    assert (mine / "lesson2.ipynb").read_text() == "lesson 2, corrected"


def test_a_file_the_student_made_under_a_teachers_name_is_theirs(course):
    source, mine, publish, deliver = course
    mine.mkdir()
    (mine / "lesson1.ipynb").write_text("mine first")
    publish()
    assert deliver()["kept"] == ["lesson1.ipynb"]
    assert (mine / "lesson1.ipynb").read_text() == "mine first"


def test_links_and_hidden_files_are_not_published(course, tmp_path):
    source, mine, publish, deliver = course
    (tmp_path / "secret").write_text("the teacher's own")
    os.symlink(tmp_path / "secret", source / "innocent.csv")
    os.symlink(tmp_path, source / "folder-link")
    (source / ".ipynb_checkpoints").mkdir()
    (source / ".ipynb_checkpoints" / "lesson1-checkpoint.ipynb").write_text("x")
    publish()
    assert sorted(deliver()["new"]) == ["data/prices.csv", "lesson1.ipynb"]
    assert not (mine / "innocent.csv").exists()


def test_published_snapshots_are_readable_by_students_whatever_the_umask(course, tmp_path):
    source, mine, publish, deliver = course
    old = os.umask(0o077)
    try:
        publish()
    finally:
        os.umask(old)
    current = tmp_path / "exchange" / "finance" / "materials" / "published" / "current"
    assert os.stat(current).st_mode & 0o7777 == 0o2775
    assert os.stat(current / "data").st_mode & 0o005 == 0o005
    assert os.stat(current / "lesson1.ipynb").st_mode & 0o777 == 0o664


def test_old_snapshots_go_and_nothing_to_publish_is_a_clear_error(course, tmp_path):
    source, mine, publish, deliver = course
    for n in range(4):
        (source / "lesson1.ipynb").write_text(f"v{n}")
        publish()
    published = tmp_path / "exchange" / "finance" / "materials" / "published"
    assert len([n for n in os.listdir(published) if n.startswith("snapshot-")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(materials.MaterialsError, match="holds no files"):
        materials.publish(str(empty), str(published))
    with pytest.raises(materials.MaterialsError, match="no materials folder"):
        materials.publish(str(tmp_path / "nowhere"), str(published))


def test_a_folder_in_the_way_fails_that_file_only(course):
    source, mine, publish, deliver = course
    publish()
    (mine / "lesson1.ipynb").mkdir(parents=True)  # a folder where the teacher's file goes
    (mine / "data").mkdir()
    report = deliver()
    assert report["kept"] == ["lesson1.ipynb"] and report["new"] == ["data/prices.csv"]


def test_what_a_co_teacher_plants_is_neither_followed_nor_delivered(course, tmp_path):
    """Links and pipes where the snapshot's files were, a link for the materials folder of the
    course, and a stand-in published folder: refused, never followed."""
    source, mine, publish, deliver = course
    publish()
    published = tmp_path / "exchange" / "finance" / "materials" / "published"
    snapshot = published / os.readlink(published / "current")
    secret = tmp_path / "teachers-bashrc"
    secret.write_text("mine")
    (snapshot / "lesson1.ipynb").unlink()
    os.symlink(secret, snapshot / "lesson1.ipynb")   # a link where a file was
    os.mkfifo(snapshot / "data" / "pipe.csv")      # a pipe that would block a reader
    for relative in ("lesson1.ipynb", "data/pipe.csv"):
        fd = os.open(str(snapshot), os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(OSError):
                materials._open_regular(fd, relative)
        finally:
            os.close(fd)
    report = deliver()
    assert report["new"] == ["data/prices.csv"] and not (mine / "lesson1.ipynb").exists()
    assert publish()[0] == 2 and secret.read_text() == "mine"  # the next publication links nothing of it
    os.chown(published, 1234, 1234)  # a teacher's stand-in for the hub's folder
    with pytest.raises(materials.MaterialsError, match="not the hub's folder"):
        deliver()


def test_a_link_in_place_of_the_courses_materials_folder_is_not_followed(course, tmp_path):
    source, mine, publish, deliver = course
    other = tmp_path / "exchange" / "other" / "materials" / "published"
    other.mkdir(parents=True)
    materials_folder = tmp_path / "exchange" / "finance" / "materials"
    os.rename(materials_folder, tmp_path / "moved")
    os.symlink(tmp_path / "exchange" / "other" / "materials", materials_folder)
    with pytest.raises(OSError):
        publish()
    assert os.listdir(other) == []
