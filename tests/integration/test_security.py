"""The attacks of issue "No way in", performed for real against the running stack: each must fail.

Students and teachers act as real Linux users in the hub container (runuser), LMS course
authors with real signed launches. For the path attacks the owners and modes of /etc, the hub's
private folders and the exchange are compared before and after."""

import os
import secrets
import time

import pytest
import requests

from harness import edx
from harness.stack import REPO, HubClient, run, wait_until

EXCHANGE = "/srv/nbgrader/exchange"
WATCHED = ("/etc /etc/passwd /etc/shadow /etc/group /srv/jupyterhub /srv/jupyterhub/private "
           "/srv/jupyterhub/private/site /srv/jupyterhub/state /srv/jupyterhub/state/registry.sqlite "
           "/srv/nbgrader /srv/nbgrader/courses")
ACCOUNTS = """login;password;teacher;courses
prof1;wawa;1
eleve1;eleve1pw
eleve2;eleve2pw
"""


@pytest.fixture(scope="module")
def hub(stack):
    """The stack with the accounts watcher on and an admin listed who has no account yet."""
    stack.write_accounts(ACCOUNTS)
    stack.reconfigure({"ACCOUNTS_WATCH": "1", "ADMIN_USERS": "headteacher"})
    yield stack
    stack.write_accounts(open(os.path.join(REPO, "accounts.csv")).read())
    stack.reconfigure({})
    stack.sync()


def owners_and_modes(stack, paths=WATCHED):
    return stack.exec("sh", "-c", f"stat -c '%n %F %u %g %a' {paths}").stdout


def as_user(stack, login, script, check=False):
    return stack.exec("sh", "-c", script, user=login, check=check)


def apply_accounts(stack, text):
    """Replace accounts.csv the way `sed -i`, `git checkout` and many editors do (a new file)."""
    temporary = stack.accounts_path + ".new"
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, stack.accounts_path)


def consumer(stack, team):
    key, secret = stack.exec("hubsetup", "lti", "passport", "--team", team).stdout.strip().split(":")[1:]
    return key, secret


def launch(stack, team_consumer, **kwargs):
    """The hub user (its API model) a signed launch of this consumer logs in as."""
    key, secret = team_consumer
    session = HubClient(stack, "browser")
    response = session.launch(edx.launch_params(stack.url + "/hub/lti/launch", key, secret, **kwargs))
    assert response.status_code == 302, (response.status_code, response.text[:300])
    return session.get(stack.url + "/hub/api/user", headers={"X-XSRFToken": session.xsrf() or ""}).json()


# --- 1. the exchange -------------------------------------------------------------------------

def test_a_student_cannot_create_anything_in_the_exchange_root(hub):
    assert hub.exec("stat", "-c", "%u %a", EXCHANGE).stdout.split() == ["0", "755"]
    for attempt in (f"ln -s /srv/jupyterhub/private {EXCHANGE}/future-course",
                    f"mkdir -p {EXCHANGE}/future-course/inbound"):
        assert as_user(hub, "eleve1", attempt).returncode != 0
    assert hub.exec("test", "-e", f"{EXCHANGE}/future-course", check=False).returncode != 0


def test_exchange_entries_squatted_under_an_older_version_are_moved_aside_not_followed(hub):
    # An older version left the root world-writable: a student made a course's folder a link to
    # the hub's private folder, and pre-made another course's inbound, before either existed.
    hub.exec("chmod", "1777", EXCHANGE)
    as_user(hub, "eleve1", f"ln -s /srv/jupyterhub/private {EXCHANGE}/cours_prof9 && "
                           f"mkdir -p {EXCHANGE}/cours_prof8/inbound && chmod 777 {EXCHANGE}/cours_prof8/inbound",
            check=True)
    before = owners_and_modes(hub)
    result = hub.exec("hubsetup", "accounts", "sync", "--file", "/dev/stdin",
                      input=ACCOUNTS + "prof9;pw9;1\nprof8;pw8;1\n")
    assert owners_and_modes(hub) == before
    assert "moved aside" in result.stdout and "cours_prof9" in result.stdout
    assert hub.exec("stat", "-c", "%u %a", EXCHANGE).stdout.split() == ["0", "755"]
    for course in ("cours_prof9", "cours_prof8"):
        folder = hub.exec("stat", "-c", "%F %U %G %a", f"{EXCHANGE}/{course}", f"{EXCHANGE}/{course}/inbound").stdout
        assert folder.splitlines() == [f"directory root formgrade-{course} 2775",
                                       f"directory root formgrade-{course} 2773"]
    # the student's old inbound is no longer where submissions go, and the new one is unreadable to them
    assert as_user(hub, "eleve1", f"ls {EXCHANGE}/cours_prof8/inbound").returncode != 0


# --- 2. ~/courses links, and the root health check --------------------------------------------

def test_an_instructor_link_folder_pointing_elsewhere_makes_root_plant_nothing(hub):
    as_user(hub, "prof1", "rm -rf ~/courses && ln -s /srv/jupyterhub ~/courses", check=True)
    before = owners_and_modes(hub, WATCHED + " /srv/jupyterhub/*")
    result = hub.exec("hubsetup", "accounts", "sync", "--file", "/dev/stdin",
                      input=ACCOUNTS.replace("prof1;wawa;1", "prof1;wawa;1;cours_prof1 urllib"))
    assert owners_and_modes(hub, WATCHED + " /srv/jupyterhub/*") == before
    assert hub.exec("test", "-e", "/srv/jupyterhub/urllib", check=False).returncode != 0
    assert "user prof1: no link to course" in result.stdout
    assert result.returncode == 0  # the sync carried on for everyone else
    as_user(hub, "prof1", "rm ~/courses", check=True)
    hub.sync()
    assert hub.exec("test", "-L", "/home/prof1/courses/cours_prof1").returncode == 0


def test_the_root_health_check_imports_nothing_from_its_working_directory(hub):
    marker = f"/tmp/health-{secrets.token_hex(4)}"
    # A regular package beats the standard library's when its folder comes first on sys.path.
    payload = f"open({marker!r}, 'w').close()\n"
    hub.exec("sh", "-c", "mkdir -p /srv/jupyterhub/urllib && cat > /srv/jupyterhub/urllib/__init__.py && "
             "cp /srv/jupyterhub/urllib/__init__.py /srv/jupyterhub/urllib/request.py", input=payload)
    try:
        time.sleep(25)  # two health checks (every 10 s)
        assert hub.exec("test", "-e", marker, check=False).returncode != 0
        container = hub.compose("ps", "-q", "hub").stdout.strip()
        assert run("docker", "inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip() == "healthy"
    finally:
        hub.exec("rm", "-rf", "/srv/jupyterhub/urllib", marker)


# --- 3. gradebooks read by root -----------------------------------------------------------------

def test_a_gradebook_linked_to_the_registry_is_refused_and_the_registry_untouched(hub):
    registry = "/srv/jupyterhub/state/registry.sqlite"
    gradebook = "~/courses/cours_prof1/gradebook.db"
    before = hub.exec("sha256sum", registry).stdout
    as_user(hub, "prof1", f"if [ -e {gradebook} ]; then mv {gradebook} {gradebook}.kept; fi", check=True)
    try:
        for target in (registry, "/etc/cron.daily/gradebook"):
            as_user(hub, "prof1", f"ln -sfn {target} {gradebook}", check=True)
            result = hub.exec("hubsetup", "grades", "export", "--course", "cours_prof1", check=False)
            assert result.returncode == 2 and "not a plain file" in result.stderr
    finally:
        as_user(hub, "prof1", f"rm -f {gradebook}; if [ -e {gradebook}.kept ]; then mv {gradebook}.kept {gradebook}; fi")
    assert hub.exec("sha256sum", registry).stdout == before
    assert hub.exec("test", "-e", "/etc/cron.daily/gradebook", check=False).returncode != 0


# --- 4, 5. identities and courses another course team could claim ------------------------------

def test_a_linked_teacher_cannot_be_claimed_by_another_course_team(hub):
    team_a, team_b = consumer(hub, "team-a"), consumer(hub, "team-b")
    linked = hub.exec("hubsetup", "lti", "link", "--consumer", team_a[0], "--lti-user", "prof1-edx", "prof1").stdout
    assert "WARNING" in linked and "Custom Parameters" in linked
    # team B's author sets lis_person_sourcedid=prof1-edx in a component's Custom Parameters
    claimed = launch(hub, team_b, username="prof1-edx", roles="Instructor")
    assert claimed["name"] != "prof1"
    assert launch(hub, team_a, username="prof1-edx", roles="Instructor")["name"] == "prof1"
    refused = hub.exec("hubsetup", "lti", "link", "--consumer", team_a[0], "--lti-user", "x", "headteacher",
                       check=False)
    assert refused.returncode == 2 and "admin" in refused.stderr


def test_a_context_id_never_reaches_a_csv_course_or_another_lms_course(hub):
    team_b, team_c = consumer(hub, "team-b"), consumer(hub, "team-c")
    intruder = launch(hub, team_b, username="intruder", roles="Instructor", context_id="cours_prof1")["name"]
    groups = hub.groups_of(intruder)
    assert "formgrade-cours_prof1" not in groups and "nbgrader-cours_prof1" not in groups
    assert as_user(hub, intruder, "ls /srv/nbgrader/courses/cours_prof1").returncode != 0
    first = launch(hub, team_c, username="c-teacher", roles="Instructor", context_id="course-v1:MITx+6.00-1x+2026")
    lookalike = launch(hub, team_c, username="c-other", roles="Instructor", context_id="course-v1:MITx-6.00+1x+2026")
    other_lms = launch(hub, team_b, username="b-teacher", roles="Instructor", context_id="course-v1:MITx+6.00-1x+2026")
    taught = [{g for g in hub.groups_of(user["name"]) if g.startswith("formgrade-")}
              for user in (first, lookalike, other_lms)]
    assert taught[0] == {"formgrade-course-v1-mitx-6.00-1x-2026"}
    assert len(set.union(*taught)) == 3


# --- 6. reserved and admin names --------------------------------------------------------------

def test_launches_never_take_admin_or_reserved_names_and_a_later_csv_row_does_not_stop_the_hub(hub):
    team = consumer(hub, "team-a")
    for name in ("headteacher", "admin", "hub", "jupyterhub"):
        user = launch(hub, team, username=name)
        assert user["name"] != name and not user["admin"]
    taken = launch(hub, team, username="marie.sklodowska")["name"]
    assert taken == "marie.sklodowska"
    apply_accounts(hub, ACCOUNTS + "headteacher;htpw;1\nmarie.sklodowska;mspw\n")
    wait_until(lambda: hub.exec("id", "headteacher", check=False).returncode == 0, "headteacher not applied")
    assert "line 6: login 'marie.sklodowska' already belongs to a user an LTI launch made" in hub.logs()
    hub.compose("restart", "hub")
    hub.wait_healthy()
    assert hub.exec("hubsetup", "accounts", "check").stdout.count("line 6") == 1


# --- 8. an accounts.csv replaced on the host ---------------------------------------------------

def test_a_replaced_accounts_file_is_applied_by_itself_and_a_bad_one_changes_nothing(hub, client):
    apply_accounts(hub, ACCOUNTS.replace("eleve2;eleve2pw\n", "") + "eleve4;eleve4pw\n")
    wait_until(lambda: client("eleve4").log_in("eleve4pw"), "the new row was not applied", timeout=30)
    assert not client("eleve2").log_in("eleve2pw"), "the removed row is locked"
    assert "read /srv/jupyterhub/private/site/accounts.csv (modified" in hub.logs()
    apply_accounts(hub, ACCOUNTS + "Bad;pw\n")
    wait_until(lambda: "was not applied; the hub keeps the accounts it had" in hub.logs(), "no refusal logged")
    assert client("eleve4").log_in("eleve4pw") and not client("eleve2").log_in("eleve2pw")
    apply_accounts(hub, ACCOUNTS)
    output = hub.sync().stdout
    assert "read /srv/jupyterhub/private/site/accounts.csv (modified" in output and "3 accounts" in output


def test_compose_refuses_the_old_single_file_variable(hub):
    result = hub.exec("env", "ACCOUNTS_CSV=/srv/school/accounts.csv", "hubsetup", "accounts", "check", check=False)
    assert result.returncode != 0 and "ACCOUNTS_DIR" in result.stderr


# --- 10. nonces of unsigned launches ---------------------------------------------------------

FIND_HUB = ("import os; print(next(p for p in os.listdir('/proc') if p.isdigit() and "
            "open(f'/proc/{p}/cmdline', 'rb').read().endswith(b'-f\\0/srv/jupyterhub/jupyterhub_config.py\\0')))")


def hub_rss_kib(stack):
    pid = stack.exec("python3", "-c", FIND_HUB).stdout.strip()
    return int(stack.exec("sh", "-c", f"grep VmRSS /proc/{pid}/status").stdout.split()[1])


def test_unsigned_launches_cannot_grow_the_hubs_memory_or_evict_a_nonce(hub):
    key, secret = consumer(hub, "team-a")
    url = hub.url + "/hub/lti/launch"
    replayable = edx.launch_params(url, key, secret, username="replayed")
    assert requests.post(url, data=replayable, allow_redirects=False).status_code == 302
    session = requests.Session()

    def flood(label):
        """30 MB of nonces, which the stock validator kept before it checked any signature."""
        statuses = set()
        for n in range(150):
            forged = dict(edx.launch_params(url, key, "not-the-secret"), oauth_nonce=f"{label}{n}-" + "x" * 200_000)
            statuses.add(session.post(url, data=forged, allow_redirects=False).status_code)
        return statuses

    # The first flood warms the allocator (buffers of that size stay with the process); a second
    # one would add another 30 MB if the nonces were kept.
    before = hub_rss_kib(hub)
    statuses = flood("a")
    warmed = hub_rss_kib(hub)
    statuses |= flood("b")
    after = hub_rss_kib(hub)
    print(f"hub RSS: {before} KiB, after one flood of forged launches {warmed - before:+d} KiB, "
          f"after a second {after - warmed:+d} KiB")
    assert statuses <= {400, 401} and after - warmed < 8_000
    assert requests.post(url, data=replayable, allow_redirects=False).status_code == 401
