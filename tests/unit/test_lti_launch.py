"""What a verified launch makes: a user, a course, a membership, names no one can claim."""

import os

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sync chowns homes: needs root")


def test_lti_launch_makes_a_user_in_its_course(site):
    login = site.launch_as("Marie.Curie")
    assert login == "marie.curie"
    assert "marie.curie" in site.table("group")["nbgrader-course-v1-x"][3].split(",")
    assert site.shadow_hash("marie.curie") == "!"  # no password: LTI only
    assert site.launch_as("Marie.Curie") == login


def test_lti_logins_never_take_reserved_or_admin_names(site):
    from dataclasses import replace

    site.settings = replace(site.settings, admin_users="boss")
    for name in ("admin", "hub", "jupyterhub", "boss"):
        login, _ = site.launch_in(name, "course-v1:X+Y+Z")
        assert login != name and login.startswith(name + "-")


def test_each_consumer_and_context_gets_its_own_course(site):
    site.sync("prof1;wawa;1\n")
    _, course = site.launch_in("t1", "course-v1:MITx+6.00-1x+2026", instructor=True)
    _, same = site.launch_in("t2", "course-v1:MITx+6.00-1x+2026")
    _, lookalike = site.launch_in("t3", "course-v1:MITx-6.00+1x+2026", instructor=True)
    _, other_lms = site.launch_in("t4", "course-v1:MITx+6.00-1x+2026", consumer="other", instructor=True)
    _, csv_name = site.launch_in("t5", "cours_prof1", consumer="other", instructor=True)
    assert course == same == "course-v1-mitx-6.00-1x-2026"
    assert len({course, lookalike, other_lms, csv_name, "cours_prof1"}) == 5
    assert csv_name.startswith("cours_prof1-")
    assert "t5" not in site.table("group")["formgrade-cours_prof1"][3].split(",")


def test_a_removed_lti_login_is_never_given_to_someone_else(site):
    from hubsetup.provision import remove_users

    login, _ = site.launch_in("bob", "course-v1:X+Y+Z")
    remove_users(site.settings, [login], etc=str(site.etc))
    again, _ = site.launch_in("bob", "course-v1:X+Y+Z", consumer="another-team")
    assert again != login and again.startswith("bob-")


def test_admin_names_match_whatever_their_case(site):
    from dataclasses import replace

    site.settings = replace(site.settings, admin_users="Alice")
    login, _ = site.launch_in("alice", "course-v1:X+Y+Z")
    assert login != "alice"


def names(site):
    from hubsetup import registry

    with registry.connect(site.settings.registry_path, write=False) as db:
        return {login: name.shown for login, name in registry.names_of(db).items()}


def test_a_launch_keeps_the_lms_name_and_the_next_launch_updates_it(site):
    login, _ = site.launch_in("张三", "course-v1:X+Y+Z", name="张三")
    assert login == "zhangsan" and names(site) == {"zhangsan": "张三"}
    site.launch_in("张三", "course-v1:X+Y+Z")  # edX's "Request user's name" turned off: name kept
    assert names(site) == {"zhangsan": "张三"}
    site.launch_in("张三", "course-v1:X+Y+Z", name="张小三")
    assert names(site) == {"zhangsan": "张小三"}


def test_a_second_person_whose_name_reads_the_same_gets_a_login_of_their_own(site):
    first, _ = site.launch_in("张三", "course-v1:X+Y+Z", name="张三")
    second, _ = site.launch_in("章三", "course-v1:X+Y+Z", name="章三")
    assert first == "zhangsan" and second.startswith("zhangsan-") and second != first
    assert names(site) == {first: "张三", second: "章三"}


def test_an_lms_name_giving_no_login_gets_the_anonymous_ids_short_form(site):
    login, _ = site.launch_in("😀", "course-v1:X+Y+Z", anonymous_id="a1b2c3d4e5f6a7b8c9d0")
    assert login == "a1b2c3d4e5f6"
    assert f"{login}:x:" in (site.etc / "passwd").read_text()


def test_a_name_accounts_csv_gives_wins_over_the_lms(site):
    from hubsetup import registry

    site.sync("prof1;pw;1;;王老师\n")
    with registry.connect(site.settings.registry_path) as db:
        registry.link_lti_identity(db, "key", "wang.laoshi", "prof1")
    assert site.launch_in("wang.laoshi", "course-v1:X+Y+Z", instructor=True, name="Wang L.")[0] == "prof1"
    assert names(site) == {"prof1": "王老师"}
