"""`hubsetup accounts sync`: accounts.csv into the registry and onto a scratch system (tests/unit/conftest.py)."""

import os
import stat

import pytest

from hubsetup import passwords, registry
from hubsetup.accounts import AccountsError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sync chowns homes: needs root")


def test_first_sync_creates_users_groups_and_private_homes(site):
    report = site.sync("prof1;wawa;1\neleve1;pw1\n")
    assert report.added == ["prof1", "eleve1"]
    passwd = site.table("passwd")
    assert passwd["prof1"][2] == passwd["prof1"][3] == str(site.settings.first_uid)
    assert passwords.verify("wawa", site.shadow_hash("prof1"))
    home = os.stat(site.tmp / "home" / "eleve1")
    assert stat.S_IMODE(home.st_mode) == 0o700 and home.st_uid == int(passwd["eleve1"][2])
    groups = site.table("group")
    assert groups["formgrade-cours_prof1"][3] == "prof1"
    assert groups["nbgrader-cours_prof1"][3] == "eleve1,prof1"
    # the image's own accounts are kept as they were
    assert site.table("passwd")["www-data"] == site.base_etc["passwd"].splitlines()[1].split(":")


def test_second_sync_without_changes_writes_nothing(site):
    site.sync("prof1;wawa;1\neleve1;pw1\n")
    before = {name: (site.etc / name).stat().st_mtime_ns for name in site.base_etc}
    report = site.sync()
    assert (report.added, report.password_changed, report.files_written) == ([], [], [])
    assert report.unchanged == 2
    assert before == {name: (site.etc / name).stat().st_mtime_ns for name in site.base_etc}


def test_added_changed_and_removed_rows(site):
    site.sync("prof1;wawa;1\neleve1;pw1\neleve2;pw2\n")
    uid_of_eleve2 = site.table("passwd")["eleve2"][2]
    report = site.sync("prof1;wawa;1\neleve1;newpw\neleve3;pw3\n")
    assert (report.added, report.password_changed, report.locked) == (["eleve3"], ["eleve1"], ["eleve2"])
    assert passwords.verify("newpw", site.shadow_hash("eleve1"))
    assert site.shadow_hash("eleve2").startswith("!")
    assert (site.tmp / "home" / "eleve2").is_dir(), "a removed row keeps its home"
    report = site.sync("prof1;wawa;1\neleve1;newpw\neleve2;pw2\n")
    assert report.unlocked == ["eleve2"] and report.locked == ["eleve3"]
    assert site.table("passwd")["eleve2"][2] == uid_of_eleve2
    assert passwords.verify("pw2", site.shadow_hash("eleve2"))


def test_bad_file_changes_nothing(site):
    site.sync("prof1;wawa;1\n")
    before = {name: (site.etc / name).read_text() for name in site.base_etc}
    with pytest.raises(AccountsError) as error:
        site.sync("prof1;changed;1\nBad;pw\neleve1;\n")
    assert [p.split(":")[0] for p in error.value.problems] == ["line 2", "line 3"]
    assert before == {name: (site.etc / name).read_text() for name in site.base_etc}
    assert passwords.verify("wawa", site.shadow_hash("prof1"))


def test_recreated_container_gets_same_users_from_registry(site):
    site.sync("prof1;wawa;1\neleve1;pw1\n")
    uids = {login: site.table("passwd")[login][2] for login in ("prof1", "eleve1")}
    for name, text in site.base_etc.items():  # a new container: /etc as the image ships it
        (site.etc / name).write_text(text)
    report = site.sync()
    assert report.unchanged == 2 and report.added == []
    assert {login: site.table("passwd")[login][2] for login in uids} == uids
    assert passwords.verify("pw1", site.shadow_hash("eleve1"))


def test_password_a_user_set_themself_survives_recreation(site):
    site.sync("eleve1;pw1\n")
    own = passwords.hash_password("mine")
    shadow = (site.etc / "shadow").read_text().replace(site.shadow_hash("eleve1"), own)
    (site.etc / "shadow").write_text(shadow)
    site.sync()
    for name, text in site.base_etc.items():
        (site.etc / name).write_text(text)
    site.sync()
    assert passwords.verify("mine", site.shadow_hash("eleve1"))


def test_existing_home_keeps_its_owner_uid(site):
    home = site.tmp / "home" / "eleve1"
    home.mkdir()
    os.chown(home, 4242, 4242)
    site.sync("eleve1;pw1\n")
    assert site.table("passwd")["eleve1"][2] == "4242"


def test_dry_run_changes_nothing(site):
    report = site.sync("prof1;wawa;1\n", dry_run=True)
    assert report.added == ["prof1"] and report.dry_run
    assert "prof1" not in site.table("passwd")
    with registry.connect(site.settings.registry_path) as db:
        assert registry.users(db) == {}


def test_hashed_password_is_used_as_is(site):
    hashed = passwords.hash_password("wawa", "yescrypt")
    site.sync(f"prof1;{hashed};1\n")
    assert site.shadow_hash("prof1") == hashed


def test_registry_and_state_are_private(site):
    site.sync("prof1;wawa;1\n")
    assert stat.S_IMODE(os.stat(site.settings.state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(site.settings.registry_path).st_mode) == 0o600


def test_a_csv_row_taken_by_an_lti_user_is_skipped_by_line_and_the_rest_applies(site):
    site.sync("prof1;wawa;1\n")
    login, _ = site.launch_in("alice", "course-v1:X+Y+Z")
    report = site.sync(f"prof1;wawa;1\n{login};pw;1\neleve1;pw1\n")
    assert report.added == ["eleve1"]
    assert report.skipped_rows and report.skipped_rows[0].startswith(f"line 2: login '{login}'")
    assert site.shadow_hash(login) == "!"


def test_a_changed_accounts_file_is_applied_by_the_watcher_and_a_bad_one_changes_nothing(site):
    from hubsetup.accounts_watch import Watcher

    site.sync("prof1;wawa;1\n")
    watcher = Watcher(site.settings, etc=str(site.etc))
    assert watcher.look() is None  # what the last sync applied
    replacement = site.tmp / "accounts.new"
    replacement.write_text("prof1;wawa;1\neleve1;pw1\n")
    os.replace(replacement, site.tmp / "accounts.csv")  # as sed -i, git checkout and editors do
    report = watcher.look()
    assert report.added == ["eleve1"] and "eleve1" in site.table("passwd")
    assert "accounts.csv (modified" in report.summary() and "2 accounts" in report.summary()
    before = (site.etc / "passwd").read_text()
    (site.tmp / "accounts.csv").write_text("prof1;wawa;1\nBad;pw\n")
    assert watcher.look() is None
    assert (site.etc / "passwd").read_text() == before


def test_a_course_an_lti_consumer_made_is_not_joined_by_a_later_csv_row(site):
    site.sync("prof1;wawa;1\n")
    _, course = site.launch_in("squatter", "ds102", instructor=True)
    assert course == "ds102"
    report = site.sync("prof1;wawa;1\nprof2;pw2;1;ds102\neleve1;pw1;0;ds102\n")
    assert report.added == ["prof2", "eleve1"]
    assert len(report.skipped_rows) == 1 and report.skipped_rows[0].startswith("lines 2, 3: course 'ds102'")
    members = site.table("group")["formgrade-ds102"][3].split(",")
    assert "prof2" not in members and "eleve1" not in site.table("group")["nbgrader-ds102"][3].split(",")


def test_the_name_column_gives_names_takes_them_back_and_says_how_many(site):
    from hubsetup import registry

    report = site.sync("prof1;pw;1;;王老师\neleve1;pw;;;Marie-Hélène Dupont\neleve2;pw\n")
    assert report.names_changed == 2 and "real names: 2 given or changed" in report.summary()
    with registry.connect(site.settings.registry_path, write=False) as db:
        assert {login: name.shown for login, name in registry.names_of(db).items()} == {
            "prof1": "王老师", "eleve1": "Marie-Hélène Dupont"}
    assert site.sync().names_changed == 0  # unchanged: nothing written
    site.sync("prof1;pw;1;;王老师\neleve1;pw\neleve2;pw\n")
    with registry.connect(site.settings.registry_path, write=False) as db:
        assert set(registry.names_of(db)) == {"prof1"}
    # /etc/passwd never carries a name: it is the registry's alone
    assert site.table("passwd")["prof1"][4] == ""
