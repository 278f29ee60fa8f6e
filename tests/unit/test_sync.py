"""`hubsetup accounts sync` against a scratch /etc, homes and state (run as root: it chowns).

The system files are copies in a temporary folder, so the host's users are never touched; the
real PAM check of these passwords happens in the integration tests, inside the image."""

import os
import stat

import pytest

from hubsetup import passwords, registry
from hubsetup.accounts import AccountsError
from hubsetup.settings import Settings
from hubsetup.sync import sync_accounts

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sync chowns homes: needs root")

BASE_ETC = {
    "passwd": "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
    "group": "root:x:0:\nwww-data:x:33:\n",
    "shadow": "root:*:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\n",
    "gshadow": "root:*::\nwww-data:*::\n",
}


@pytest.fixture
def site(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    for name, text in BASE_ETC.items():
        (etc / name).write_text(text)
    (tmp_path / "home").mkdir()
    settings = Settings.from_env(
        env={},
        accounts_file=str(tmp_path / "accounts.csv"),
        state_dir=str(tmp_path / "state"),
        home_root=str(tmp_path / "home"),
        courses_root=str(tmp_path / "courses"),
        exchange_root=str(tmp_path / "exchange"),
    )

    class Site:
        def __init__(self):
            self.settings, self.etc, self.tmp = settings, etc, tmp_path

        def sync(self, text=None, **kwargs):
            if text is not None:
                (tmp_path / "accounts.csv").write_text(text)
            return sync_accounts(settings, etc=str(etc), **kwargs)

        def table(self, name):
            lines = (etc / name).read_text().splitlines()
            return {line.split(":")[0]: line.split(":") for line in lines}

        def shadow_hash(self, login):
            return self.table("shadow")[login][1]

    return Site()


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
    assert site.table("passwd")["www-data"] == BASE_ETC["passwd"].splitlines()[1].split(":")


def test_second_sync_without_changes_writes_nothing(site):
    site.sync("prof1;wawa;1\neleve1;pw1\n")
    before = {name: (site.etc / name).stat().st_mtime_ns for name in BASE_ETC}
    report = site.sync()
    assert (report.added, report.password_changed, report.files_written) == ([], [], [])
    assert report.unchanged == 2
    assert before == {name: (site.etc / name).stat().st_mtime_ns for name in BASE_ETC}


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
    before = {name: (site.etc / name).read_text() for name in BASE_ETC}
    with pytest.raises(AccountsError) as error:
        site.sync("prof1;changed;1\nBad;pw\neleve1;\n")
    assert [p.split(":")[0] for p in error.value.problems] == ["line 2", "line 3"]
    assert before == {name: (site.etc / name).read_text() for name in BASE_ETC}
    assert passwords.verify("wawa", site.shadow_hash("prof1"))


def test_recreated_container_gets_same_users_from_registry(site):
    site.sync("prof1;wawa;1\neleve1;pw1\n")
    uids = {login: site.table("passwd")[login][2] for login in ("prof1", "eleve1")}
    for name, text in BASE_ETC.items():  # a new container: /etc as the image ships it
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
    for name, text in BASE_ETC.items():
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


def launch_as(site, lti_user, course="course-v1-x", instructor=False):
    from hubsetup.lti.launch import Launch, apply_launch

    launch = Launch("key", lti_user, course, instructor, "block-1", assignment="ps1")
    return apply_launch(site.settings, launch, etc=str(site.etc))[0]


def test_lti_launch_makes_a_user_in_its_course(site):
    login = launch_as(site, "Marie.Curie")
    assert login == "marie.curie"
    assert "marie.curie" in site.table("group")["nbgrader-course-v1-x"][3].split(",")
    assert site.shadow_hash("marie.curie") == "!"  # no password: LTI only
    assert launch_as(site, "Marie.Curie") == login


def test_removed_lti_user_is_gone_and_its_uid_never_reused(site):
    site.sync("prof1;wawa;1\n")
    login = launch_as(site, "leaver")
    uid = site.table("passwd")[login][2]
    from hubsetup.provision import remove_users

    remove_users(site.settings, [login], etc=str(site.etc))
    assert login not in site.table("passwd") and login not in site.table("shadow")
    assert login not in site.table("group")["nbgrader-course-v1-x"][3].split(",")
    assert not (site.tmp / "home" / login).exists()
    newcomer = launch_as(site, "newcomer")
    assert site.table("passwd")[newcomer][2] != uid
    with pytest.raises(ValueError, match="accounts.csv"):
        remove_users(site.settings, ["prof1"], etc=str(site.etc))
    with pytest.raises(ValueError, match="running server"):
        remove_users(site.settings, [newcomer], etc=str(site.etc), running=[newcomer])
    assert newcomer in site.table("passwd")


def launch_in(site, lti_user, context_id, consumer="key", instructor=False):
    from hubsetup.lti.launch import Launch, apply_launch

    return apply_launch(site.settings, Launch(consumer, lti_user, context_id, instructor, "block-1"), etc=str(site.etc))


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
        "inbound": 0o2773, "outbound": 0o2775, "feedback": 0o2771}
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


def test_a_csv_row_taken_by_an_lti_user_is_skipped_by_line_and_the_rest_applies(site):
    site.sync("prof1;wawa;1\n")
    login, _ = launch_in(site, "alice", "course-v1:X+Y+Z")
    report = site.sync(f"prof1;wawa;1\n{login};pw;1\neleve1;pw1\n")
    assert report.added == ["eleve1"]
    assert report.skipped_rows and report.skipped_rows[0].startswith(f"line 2: login '{login}'")
    assert site.shadow_hash(login) == "!"


def test_lti_logins_never_take_reserved_or_admin_names(site):
    from dataclasses import replace

    site.settings = replace(site.settings, admin_users="boss")
    for name in ("admin", "hub", "jupyterhub", "boss"):
        login, _ = launch_in(site, name, "course-v1:X+Y+Z")
        assert login != name and login.startswith(name + "-")


def test_each_consumer_and_context_gets_its_own_course(site):
    site.sync("prof1;wawa;1\n")
    _, course = launch_in(site, "t1", "course-v1:MITx+6.00-1x+2026", instructor=True)
    _, same = launch_in(site, "t2", "course-v1:MITx+6.00-1x+2026")
    _, lookalike = launch_in(site, "t3", "course-v1:MITx-6.00+1x+2026", instructor=True)
    _, other_lms = launch_in(site, "t4", "course-v1:MITx+6.00-1x+2026", consumer="other", instructor=True)
    _, csv_name = launch_in(site, "t5", "cours_prof1", consumer="other", instructor=True)
    assert course == same == "course-v1-mitx-6.00-1x-2026"
    assert len({course, lookalike, other_lms, csv_name, "cours_prof1"}) == 5
    assert csv_name.startswith("cours_prof1-")
    assert "t5" not in site.table("group")["formgrade-cours_prof1"][3].split(",")


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
    _, course = launch_in(site, "squatter", "ds102", instructor=True)
    assert course == "ds102"
    report = site.sync("prof1;wawa;1\nprof2;pw2;1;ds102\neleve1;pw1;0;ds102\n")
    assert report.added == ["prof2", "eleve1"]
    assert len(report.skipped_rows) == 1 and report.skipped_rows[0].startswith("lines 2, 3: course 'ds102'")
    members = site.table("group")["formgrade-ds102"][3].split(",")
    assert "prof2" not in members and "eleve1" not in site.table("group")["nbgrader-ds102"][3].split(",")


def test_a_removed_lti_login_is_never_given_to_someone_else(site):
    from hubsetup.provision import remove_users

    login, _ = launch_in(site, "bob", "course-v1:X+Y+Z")
    remove_users(site.settings, [login], etc=str(site.etc))
    again, _ = launch_in(site, "bob", "course-v1:X+Y+Z", consumer="another-team")
    assert again != login and again.startswith("bob-")


def test_admin_names_match_whatever_their_case(site):
    from dataclasses import replace

    site.settings = replace(site.settings, admin_users="Alice")
    login, _ = launch_in(site, "alice", "course-v1:X+Y+Z")
    assert login != "alice"
