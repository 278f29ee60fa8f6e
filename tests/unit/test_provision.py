"""The registry projected onto the system: what a user tampered with is skipped for them alone,
and removed users leave nothing behind (a scratch system, tests/unit/conftest.py)."""

import os
import stat

import pytest

from hubsetup.provision import remove_users

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sync chowns homes: needs root")


def test_removed_lti_user_is_gone_and_its_uid_never_reused(site):
    site.sync("prof1;wawa;1\n")
    login = site.launch_as("leaver")
    uid = site.table("passwd")[login][2]
    remove_users(site.settings, [login], etc=str(site.etc))
    assert login not in site.table("passwd") and login not in site.table("shadow")
    assert login not in site.table("group")["nbgrader-course-v1-x"][3].split(",")
    assert not (site.tmp / "home" / login).exists()
    newcomer = site.launch_as("newcomer")
    assert site.table("passwd")[newcomer][2] != uid
    with pytest.raises(ValueError, match="accounts.csv"):
        remove_users(site.settings, ["prof1"], etc=str(site.etc))
    with pytest.raises(ValueError, match="running server"):
        remove_users(site.settings, [newcomer], etc=str(site.etc), running=[newcomer])
    assert newcomer in site.table("passwd")


def test_a_squatted_exchange_folder_is_moved_aside_and_the_target_keeps_its_owner(site):
    site.sync("eleve1;pw1\n")
    target = site.tmp / "private"
    target.mkdir(mode=0o700)
    os.symlink(target, site.tmp / "exchange" / "cours_prof2")  # what a student did in a 1777 root
    report = site.sync("eleve1;pw1\nprof2;pw2;1\n")
    assert (target.stat().st_uid, target.stat().st_gid, stat.S_IMODE(target.stat().st_mode)) == (0, 0, 0o700)
    course = site.tmp / "exchange" / "cours_prof2"
    assert course.is_dir() and not course.is_symlink()
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in course.iterdir()} == {
        "inbound": 0o2773, "outbound": 0o2775, "feedback": 0o2771, "materials": 0o750}
    assert stat.S_IMODE((course / "materials" / "published").stat().st_mode) == 0o2775
    assert stat.S_IMODE((site.tmp / "exchange").stat().st_mode) == 0o755
    assert any("cours_prof2" in warning and "moved aside" in warning for warning in report.warnings)


def test_a_courses_link_folder_replaced_by_a_link_is_skipped_for_that_user_only(site):
    site.sync("prof1;wawa;1\nprof2;pw2;1\n")
    planted = site.tmp / "planted"
    planted.mkdir()
    links = site.tmp / "home" / "prof1" / "courses"
    for entry in links.iterdir():
        entry.unlink()
    links.rmdir()
    links.symlink_to(planted)
    report = site.sync("prof1;wawa;1;cours_prof1 extra\nprof2;pw2;1\n")
    assert os.listdir(planted) == []
    assert any("prof1" in warning and "courses" in warning for warning in report.warnings)
    assert os.path.islink(site.tmp / "home" / "prof2" / "courses" / "cours_prof2")


def test_a_home_replaced_by_a_link_is_skipped_and_its_target_untouched(site):
    site.sync("eleve1;pw1\n")
    (site.tmp / "home" / "eleve1").rename(site.tmp / "old")
    target = site.tmp / "etc-like"
    target.mkdir(mode=0o755)
    (site.tmp / "home" / "eleve1").symlink_to(target)
    report = site.sync("eleve1;pw1\neleve2;pw2\n")
    assert (target.stat().st_uid, stat.S_IMODE(target.stat().st_mode)) == (0, 0o755)
    assert report.added == ["eleve2"] and (site.tmp / "home" / "eleve2").is_dir()
    assert any("eleve1" in warning for warning in report.warnings)


def test_a_squatted_materials_folder_is_moved_aside_and_made_for_the_courses_members(site):
    site.sync("prof1;pw;1\neleve1;pw\n")
    materials = site.tmp / "exchange" / "cours_prof1" / "materials"
    published = materials / "published"
    os.rmdir(published)
    os.symlink("/etc", published)  # an instructor's link where the hub's folder goes
    report = site.sync()
    assert published.is_dir() and not published.is_symlink()
    gids = site.table("group")
    assert (materials.stat().st_gid, published.stat().st_gid) == (
        int(gids["nbgrader-cours_prof1"][2]), int(gids["formgrade-cours_prof1"][2]))
    assert any("materials/published" in warning and "moved aside" in warning for warning in report.warnings)
