"""Root's operations below user-writable folders never follow a link (run as root: they chown)."""

import os
import stat

import pytest

from hubsetup import safe_paths

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chowns: needs root")


def test_a_link_in_place_of_a_folder_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "secret"
    target.mkdir(mode=0o700)
    (tmp_path / "parent").mkdir()
    (tmp_path / "parent" / "course").symlink_to(target)
    with safe_paths.open_path(str(tmp_path / "parent")) as parent, pytest.raises(safe_paths.Tampered):
        parent.ensure_child("course", 0, 4242, 0o2775)
    assert (target.stat().st_gid, stat.S_IMODE(target.stat().st_mode)) == (0, 0o700)


def test_a_squatted_exchange_entry_is_moved_aside_and_made_anew(tmp_path):
    target = tmp_path / "etc"
    target.mkdir(mode=0o755)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    (exchange / "course").symlink_to(target)
    with safe_paths.open_path(str(exchange)) as folder:
        made, moved = folder.ensure_exchange_child("course", 0, 4242, 0o2775, owners={0})
        made.close()
    assert moved.startswith(".tampered-course-") and os.path.islink(exchange / moved)
    st = os.lstat(exchange / "course")
    assert stat.S_ISDIR(st.st_mode) and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 4242, 0o2775)
    assert (target.stat().st_gid, stat.S_IMODE(target.stat().st_mode)) == (0, 0o755)


def test_names_things_are_moved_to_cannot_be_taken_in_advance(tmp_path):
    with safe_paths.open_path(str(tmp_path)) as folder:
        moved = set()
        for _ in range(2):
            os.symlink("/etc", tmp_path / "inbound")
            made, name = folder.ensure_exchange_child("inbound", 0, 0, 0o2773)
            made.close()
            os.rmdir(tmp_path / "inbound")
            moved.add(name)
    assert len(moved) == 2 and all(len(name.rsplit("-", 1)[1]) == 16 for name in moved)


def test_a_sparse_file_claiming_terabytes_is_not_copied(tmp_path):
    with open(tmp_path / "gradebook.db", "wb") as f:
        f.truncate(1 << 40)
    with pytest.raises(safe_paths.Tampered, match="more than"):
        with safe_paths.private_copy(str(tmp_path), "gradebook.db"):
            pass


def test_a_strangers_folder_is_refused(tmp_path):
    (tmp_path / "course").mkdir()
    os.chown(tmp_path / "course", 5000, 5000)
    with safe_paths.open_path(str(tmp_path)) as folder, pytest.raises(safe_paths.Tampered, match="uid 5000"):
        folder.ensure_child("course", 0, 4242, 0o2775, owners={0})


def test_a_link_is_made_inside_the_folder_opened_not_where_a_path_now_leads(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "srv"
    elsewhere.mkdir()
    with safe_paths.open_path(str(home)) as folder:
        # The user swaps their folder for a link after root opened it: root still acts inside it.
        os.rename(home, tmp_path / "moved")
        os.symlink(elsewhere, home)
        assert folder.ensure_symlink("course", "/srv/nbgrader/courses/c")
    assert os.path.islink(tmp_path / "moved" / "course") and not os.listdir(elsewhere)
    assert os.lstat(tmp_path / "moved" / "course").st_uid == 0, "never chowned by name afterwards"


def test_open_path_refuses_a_link_anywhere_on_the_way(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(safe_paths.Tampered):
        safe_paths.open_path(str(tmp_path / "link"))


def test_private_copy_reads_a_plain_file_and_refuses_a_link(tmp_path):
    (tmp_path / "gradebook.db").write_bytes(b"grades")
    with safe_paths.private_copy(str(tmp_path), "gradebook.db") as copy:
        assert open(copy, "rb").read() == b"grades"
        assert stat.S_IMODE(os.stat(os.path.dirname(copy)).st_mode) == 0o700
    os.unlink(tmp_path / "gradebook.db")
    (tmp_path / "gradebook.db").symlink_to("/etc/shadow")
    with pytest.raises(safe_paths.Tampered):
        with safe_paths.private_copy(str(tmp_path), "gradebook.db"):
            pass


def test_names_are_single_components(tmp_path):
    with safe_paths.open_path(str(tmp_path)) as folder:
        for bad in ("../x", "a/b", "..", ""):
            with pytest.raises(ValueError):
                folder.entry(bad)


def test_copy_tree_leaves_links_out_and_follows_none(tmp_path):
    secret = tmp_path / "solutions.ipynb"
    secret.write_text("BEGIN SOLUTION")
    submission = tmp_path / "submission"
    (submission / "data").mkdir(parents=True)
    (submission / "answer.ipynb").write_text("mine")
    (submission / "data" / "x.csv").write_text("1,2")
    (submission / "ps1.ipynb").symlink_to(secret)
    (submission / "more").symlink_to(tmp_path)
    with safe_paths.open_path(str(submission)) as folder:
        left_out = safe_paths.copy_tree(folder, str(tmp_path / "copy"))
    copied = sorted(str(p.relative_to(tmp_path / "copy")) for p in (tmp_path / "copy").rglob("*"))
    assert copied == ["answer.ipynb", "data", "data/x.csv"]
    assert sorted(os.path.basename(p) for p in left_out) == ["more", "ps1.ipynb"]


def test_a_file_root_writes_where_a_user_put_a_link_or_a_hard_link_is_refused(tmp_path):
    """`hubsetup grades export --output ~teacher/grades.csv`, where the teacher made grades.csv a
    link to a file of root's (or a second name of one)."""
    roots = tmp_path / "shadow"
    roots.write_text("root:secret\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "grades.csv").symlink_to(roots)
    os.link(roots, home / "also-grades.csv")
    with safe_paths.open_path(str(home)) as folder:
        for name in ("grades.csv", "also-grades.csv"):
            with pytest.raises(safe_paths.Tampered):
                folder.replace_file(name)
        fd = folder.replace_file("fresh.csv")
    with open(fd, "w") as written:
        written.write("course,score\n")
    assert roots.read_text() == "root:secret\n"
    assert (home / "fresh.csv").read_text() == "course,score\n"
    assert stat.S_IMODE((home / "fresh.csv").stat().st_mode) == 0o600
