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
    from hubsetup.launch import Launch, apply_launch

    launch = Launch("key", lti_user, course, instructor, "block-1", assignment="ps1")
    return apply_launch(site.settings, launch, etc=str(site.etc))


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
    from hubsetup.sync import remove_users

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
