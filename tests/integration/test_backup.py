"""scripts/backup and scripts/restore against the running stack: a full round trip through
`docker compose down -v`, and restores that must be refused before anything changes."""

import json
import os
import subprocess
import tarfile
import time

import pytest

from harness import edx
from harness.stack import REPO, HubClient

VOLUMES = {"jh_home": "/home", "jh_exchange": "/srv/nbgrader/exchange",
           "jh_courses": "/srv/nbgrader/courses", "jh_state": "/srv/jupyterhub/state"}
TEACHER_NAME = "backup.teacher"  # an LTI instructor, of a course no other test uses
COURSE_CONTEXT = "course-v1:DemoX+BK101+2026_T1"
COURSE = "course-v1-demox-bk101-2026_t1"
SETGID_GROUP = "formgrade-cours_prof1"
BUSY_DB = "/home/eleve2/busy.sqlite"
BUSY_STOP = "/tmp/stop-busy-writer"
BATCH = 50

# What the tests add to the volumes: (path, kind, owner, group, mode, content). Odd names,
# private and group modes, a setgid folder, a symlink, an empty and a binary file.
FILES = [
    ("/home/eleve1/notes de cours é.txt", "file", "eleve1", "eleve1", "0600", "des notes\n"),
    ("/home/eleve1/Überblick — données", "dir", "eleve1", "eleve1", "0750", None),
    ("/home/eleve1/Überblick — données/résumé (final) #1.ipynb", "file", "eleve1", "eleve1", "0640", '{"cells": []}'),
    ("/home/eleve1/.hidden config", "file", "eleve1", "eleve1", "0600", "x=1\n"),
    ("/home/eleve2/日本語のノート.txt", "file", "eleve2", "eleve2", "0644", "ノート\n"),
    ("/home/eleve2/run me.sh", "file", "eleve2", "eleve2", "0755", "#!/bin/sh\necho hi\n"),
    ("/home/eleve2/link to notes", "symlink", "eleve2", "eleve2", None, "日本語のノート.txt"),
    ("/home/eleve2/random.bin", "file", "eleve2", "eleve2", "0600", "random:200000"),
    ("/home/eleve2/empty file", "file", "eleve2", "eleve2", "0600", ""),
    ("/home/prof1/partagé", "dir", "prof1", SETGID_GROUP, "2770", None),
    ("/home/prof1/partagé/solution 'ps1'.py", "file", "prof1", SETGID_GROUP, "0660", "def add(a, b):\n    return a + b\n"),
    (f"/home/{TEACHER_NAME}/mon travail.py", "file", TEACHER_NAME, TEACHER_NAME, "0600", "print('lti')\n"),
    (f"/srv/nbgrader/courses/{COURSE}/source", "dir", TEACHER_NAME, f"formgrade-{COURSE}", "2770", None),
    (f"/srv/nbgrader/courses/{COURSE}/source/ps0", "dir", TEACHER_NAME, f"formgrade-{COURSE}", "2770", None),
    (f"/srv/nbgrader/courses/{COURSE}/source/ps0/ps0.ipynb", "file", TEACHER_NAME, f"formgrade-{COURSE}", "0660", "{}"),
    (f"/srv/nbgrader/exchange/{COURSE}/outbound", "dir", "root", f"formgrade-{COURSE}", "2775", None),  # the hub's
    (f"/srv/nbgrader/exchange/{COURSE}/outbound/ps0", "dir", TEACHER_NAME, f"formgrade-{COURSE}", "2775", None),
    (f"/srv/nbgrader/exchange/{COURSE}/outbound/ps0/ps0.ipynb", "file", TEACHER_NAME, f"formgrade-{COURSE}", "0664", "{}"),
]

POPULATE = r"""
import grp, json, os, pwd, sys
for path, kind, owner, group, mode, content in json.loads(sys.argv[1]):
    if kind == "dir":
        os.makedirs(path, exist_ok=True)
    elif kind == "symlink":
        os.symlink(content, path)
    else:
        with open(path, "wb") as f:
            f.write(os.urandom(int(content[7:])) if content.startswith("random:") else content.encode())
    os.lchown(path, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
    if mode:
        os.chmod(path, int(mode, 8))
"""

# The same records as the manifest's entries, read straight from the hub's mounts.
SNAPSHOT = r"""
import hashlib, json, os, stat, sys
def record(path):
    st = os.lstat(path)
    entry = {"uid": st.st_uid, "gid": st.st_gid}
    if stat.S_ISLNK(st.st_mode):
        return dict(entry, type="symlink", target=os.readlink(path))
    entry["mode"] = format(stat.S_IMODE(st.st_mode), "04o")
    if stat.S_ISDIR(st.st_mode):
        return dict(entry, type="dir")
    with open(path, "rb") as f:
        return dict(entry, type="file", size=st.st_size, sha256=hashlib.sha256(f.read()).hexdigest())
found = {}
for volume, root in json.loads(sys.argv[1]).items():
    for directory, dirs, files in os.walk(root):
        for path in [directory] + [os.path.join(directory, name) for name in dirs + files]:
            try:
                found[volume + path[len(root):]] = record(path)
            except FileNotFoundError:
                pass  # gone since the listing: a live database's -wal or -shm, at its checkpoint
print(json.dumps(found))
"""

# Keeps writing BATCH rows per transaction into a WAL database, as a busy hub would.
BUSY_WRITER = rf"""
import os, sqlite3, time
db = sqlite3.connect({BUSY_DB!r}, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS rows (batch INTEGER, n INTEGER)")
batch, deadline = 0, time.time() + 600
while not os.path.exists({BUSY_STOP!r}) and time.time() < deadline:
    batch += 1
    db.execute("BEGIN")
    db.executemany("INSERT INTO rows VALUES (?, ?)", [(batch, n) for n in range({BATCH})])
    db.execute("COMMIT")
    time.sleep(0.005)
"""

BUSY_STATE = rf"""
import json, sqlite3
db = sqlite3.connect("file:{BUSY_DB}?mode=ro", uri=True)
print(json.dumps({{"integrity": db.execute("PRAGMA integrity_check").fetchone()[0],
                   "rows": db.execute("SELECT count(*) FROM rows").fetchone()[0],
                   "batches": db.execute("SELECT count(DISTINCT batch) FROM rows").fetchone()[0]}}))
"""


def key_of(path):
    """A hub path as the manifest names it: /home/eleve1/x -> jh_home/eleve1/x."""
    for volume, root in VOLUMES.items():
        if path == root or path.startswith(root + "/"):
            return volume + path[len(root):]
    raise ValueError(path)


POPULATED = [key_of(path) for path, *_ in FILES]


def snapshot(stack):
    return json.loads(stack.exec("python3", "-c", SNAPSHOT, json.dumps(VOLUMES)).stdout)


def busy_state(stack):
    return json.loads(stack.exec("python3", "-c", BUSY_STATE).stdout)


def run_script(stack, name, *args):
    command = [os.path.join(REPO, "scripts", name), "-p", stack.project, *args]
    return subprocess.run(command, env=stack.env, cwd=REPO, capture_output=True, text=True, timeout=900)


def hub_started_at(stack):
    container = stack.compose("ps", "-q", "hub").stdout.strip()
    return subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", container],
                          capture_output=True, text=True, check=True).stdout.strip()


def is_sqlite(key, manifest):
    """Live databases (and their side files) differ from their online-backup copy by design."""
    base = key
    for suffix in ("-wal", "-shm", "-journal"):
        base = base[: -len(suffix)] if base.endswith(suffix) else base
    return base in manifest["sqlite_online_backups"] or base.endswith((".sqlite", ".db"))


def stable(records, manifest):
    """Everything but live databases and the proxy's pid file, which a running hub rewrites."""
    return {key: value for key, value in records.items()
            if not is_sqlite(key, manifest) and key != "jh_state/proxy.pid"}


def read_manifest(archive):
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile("manifest.json"))


@pytest.fixture(scope="module")
def teacher(stack):
    """An LTI instructor of a course of its own: (user_id, login, consumer)."""
    _, key, secret = stack.exec("hubsetup", "lti", "passport", "--id", "jupyter01").stdout.strip().split(":")
    user_id = edx.anonymous_id()
    login = lti_login(stack, (key, secret), user_id)
    return user_id, login, (key, secret)


def lti_login(stack, consumer, user_id):
    session = HubClient(stack, "browser")
    params = edx.launch_params(stack.url + "/hub/lti/launch", *consumer, user_id=user_id, username=TEACHER_NAME,
                               roles="Instructor", context_id=COURSE_CONTEXT)
    response = session.launch(params)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    return session.get(stack.url + "/hub/api/user", headers={"X-XSRFToken": session.xsrf() or ""}).json()["name"]


@pytest.fixture(scope="module")
def populated(stack, teacher):
    """The volumes with the test's files, a real nbgrader gradebook and a busy SQLite database;
    returns the records of the added files as the hub saw them."""
    assert teacher[1] == TEACHER_NAME
    stack.exec("python3", "-c", POPULATE, json.dumps(FILES))
    home = f"/home/{TEACHER_NAME}"
    stack.compose("exec", "-T", "-w", home, "hub", "runuser", "-u", TEACHER_NAME, "--", "env", f"HOME={home}",
                  f"NBGRADER_COURSE_ID={COURSE}", f"NBGRADER_COURSE_ROOT={home}/courses/{COURSE}",
                  "nbgrader", "db", "assignment", "add", "ps0")
    records = snapshot(stack)
    return {key: records[key] for key in POPULATED}


@pytest.fixture(scope="module")
def archive(stack, populated, tmp_path_factory):
    """One backup, made while a user's SQLite database is being written: (path, manifest, facts)."""
    stack.exec("rm", "-f", BUSY_STOP, BUSY_DB, BUSY_DB + "-wal", BUSY_DB + "-shm")
    stack.compose("exec", "-d", "-T", "hub", "runuser", "-u", "eleve2", "--", "python3", "-c", BUSY_WRITER)
    try:
        deadline = time.monotonic() + 60
        while stack.exec("test", "-s", BUSY_DB + "-wal", check=False).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        rows_before = busy_state(stack)["rows"]
        started = time.monotonic()
        made = run_script(stack, "backup", "--output", str(tmp_path_factory.mktemp("backups")))
        seconds = time.monotonic() - started
        rows_after = busy_state(stack)["rows"]
    finally:
        stack.exec("touch", BUSY_STOP)
    assert made.returncode == 0, made.stderr
    path = made.stdout.splitlines()[0]
    assert os.path.basename(path).startswith("hub-") and path.endswith(".tar.gz")
    assert os.stat(path).st_mode & 0o077 == 0, "the archive holds password hashes: owner only"
    facts = {"archive_bytes": os.path.getsize(path), "backup_seconds": round(seconds, 1),
             "busy_rows": (rows_before, rows_after), "backup_output": made.stdout + made.stderr}
    return path, read_manifest(path), facts


def test_manifest_describes_the_backup(archive, populated, teacher):
    _, manifest, facts = archive
    assert manifest["format"] == "teaching-hub-backup" and manifest["version"] == 1
    assert {key: manifest["entries"][key] for key in POPULATED} == populated
    assert manifest["entries"]["jh_home/prof1/partagé"]["mode"] == "2770"
    databases = set(manifest["sqlite_online_backups"])
    assert {"jh_state/jupyterhub.sqlite", "jh_state/registry.sqlite", f"jh_courses/{COURSE}/gradebook.db",
            "jh_home/eleve2/busy.sqlite"} <= databases
    assert not [key for key in manifest["entries"] if key.endswith(("-wal", "-shm", "-journal"))]
    logins = {user["login"]: user["uid"] for user in manifest["hub_accounts"]["users"]}
    assert {"prof1", "eleve1", "eleve2", TEACHER_NAME} <= logins.keys()
    registry = {user["login"]: user for user in manifest["registry"]["users"]}
    assert registry[TEACHER_NAME]["origin"] == "lti" and registry[TEACHER_NAME]["uid"] == logins[TEACHER_NAME]
    rows_before, rows_after = facts["busy_rows"]
    assert rows_after > rows_before, "the database was written during the backup"


def test_restore_over_non_empty_volumes_is_refused_and_changes_nothing(stack, archive):
    path, manifest, _ = archive
    before, started_at = stable(snapshot(stack), manifest), hub_started_at(stack)
    result = run_script(stack, "restore", path)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "not empty" in result.stderr and "Nothing was changed" in result.stderr and "--force" in result.stderr
    assert hub_started_at(stack) == started_at, "the hub was not stopped"
    assert stable(snapshot(stack), manifest) == before


def damaged(path, tmp_path, how):
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    if how == "truncated":
        data = data[:middle]
    else:
        data[middle:middle + 64] = bytes(b ^ 0x5A for b in data[middle:middle + 64])
    copy = tmp_path / f"{how}.tar.gz"
    copy.write_bytes(bytes(data))
    return str(copy)


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
def test_damaged_archive_is_refused_before_anything_changes(stack, archive, tmp_path, how):
    path, manifest, _ = archive
    before, started_at = stable(snapshot(stack), manifest), hub_started_at(stack)
    # --force: only the archive check may stop it from stopping the hub and replacing the volumes
    result = run_script(stack, "restore", "--force", damaged(path, tmp_path, how))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "is damaged" in result.stderr
    assert hub_started_at(stack) == started_at
    assert stable(snapshot(stack), manifest) == before
    assert run_script(stack, "restore", "--check", path).returncode == 0, "the original archive is still fine"


def crafted(path, tmp_path):
    """The archive as someone who can write it could rework it by hand, manifest included (so
    that it checks out against its own manifest): a root-owned setuid shell in a student's
    home, a home that is a link to /etc, and a registry user with uid 0."""
    import hashlib
    import io
    import sqlite3

    manifest = read_manifest(path)
    out = tmp_path / "crafted.tar.gz"
    with tarfile.open(path) as source, tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as target:
        for member in source.getmembers():
            if member.name == "manifest.json":
                continue
            data = source.extractfile(member).read() if member.isreg() else None
            if member.name == "volumes/jh_state/registry.sqlite":
                copy = tmp_path / "registry.sqlite"
                copy.write_bytes(data)
                db = sqlite3.connect(copy)
                db.execute("INSERT INTO users (login, uid, origin, active, password_hash) VALUES ('toor', 0, 'lti', 1, '!')")
                db.commit()
                db.close()
                data = copy.read_bytes()
                member.size = len(data)
                manifest["entries"]["jh_state/registry.sqlite"].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
            target.addfile(member, io.BytesIO(data) if data is not None else None)
        shell = b"#!/bin/sh\nexec /bin/sh -p\n"
        setuid = tarfile.TarInfo("volumes/jh_home/eleve1/rootshell")
        setuid.size, setuid.mode, setuid.uid, setuid.gid = len(shell), 0o4755, 0, 0
        target.addfile(setuid, io.BytesIO(shell))
        link = tarfile.TarInfo("volumes/jh_home/mallory")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        target.addfile(link)
        manifest["entries"]["jh_home/eleve1/rootshell"] = {
            "type": "file", "uid": 0, "gid": 0, "mode": "4755", "size": len(shell), "sha256": hashlib.sha256(shell).hexdigest()}
        manifest["entries"]["jh_home/mallory"] = {"type": "symlink", "uid": 0, "gid": 0, "target": "/etc"}
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        target.addfile(info, io.BytesIO(data))
    return str(out)


def test_a_hand_made_archive_carrying_root_is_refused_by_path(stack, archive, tmp_path):
    path, manifest, _ = archive
    before, started_at = stable(snapshot(stack), manifest), hub_started_at(stack)
    result = run_script(stack, "restore", "--force", crafted(path, tmp_path))
    assert result.returncode == 3, result.stdout + result.stderr
    for refusal in ("jh_home/eleve1/rootshell: setuid", "jh_home/mallory: a home that is a symlink",
                    "jh_state/registry.sqlite: user 'toor' has id 0, outside the hub's range"):
        assert refusal in result.stderr, result.stderr
    assert "Nothing was changed" in result.stderr
    assert hub_started_at(stack) == started_at
    assert stable(snapshot(stack), manifest) == before


def test_forced_restore_replaces_a_running_hub_volumes(stack, archive, populated):
    path, _, _ = archive
    stack.exec("sh", "-c", "echo later > /home/eleve1/made-after-backup.txt; "
               "echo changed > '/home/eleve1/notes de cours é.txt'")
    result = run_script(stack, "restore", "--force", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopping the hub" in result.stdout and "hub started again" in result.stdout
    stack.wait_healthy()
    now = snapshot(stack)
    assert "jh_home/eleve1/made-after-backup.txt" not in now, "the volumes hold the archive's files, nothing else"
    assert {key: now.get(key) for key in POPULATED} == populated
    assert HubClient(stack, "prof1").log_in("wawa")


def test_round_trip_through_down_v_keeps_files_owners_modes_and_logins(stack, archive, populated, teacher):
    path, manifest, facts = archive
    stack.compose("down", "-v")
    try:
        started = time.monotonic()
        restored = run_script(stack, "restore", path)
        facts["restore_seconds"] = round(time.monotonic() - started, 1)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "restored and verified" in restored.stdout
        up = stack.compose("up", "-d")
        assert "not created by Docker Compose" not in up.stderr, "compose adopts the restored volumes"
        stack.wait_healthy()
    finally:
        stack.compose("up", "-d", check=False)  # leave a running hub to the next tests, whatever happened
        stack.wait_healthy()
    record_timings(facts)
    now = snapshot(stack)
    assert {key: now.get(key) for key in POPULATED} == populated
    assert stable(now, manifest) == stable(manifest["entries"], manifest)
    busy = busy_state(stack)
    assert busy["integrity"] == "ok" and busy["rows"] == busy["batches"] * BATCH, "a consistent copy, not mid-write"
    assert facts["busy_rows"][0] <= busy["rows"] <= facts["busy_rows"][1]
    for user in manifest["hub_accounts"]["users"]:
        assert stack.uid_of(user["login"]) == user["uid"]
    assert HubClient(stack, "eleve1").log_in("eleve1pw")
    user_id, login, consumer = teacher
    assert lti_login(stack, consumer, user_id) == login, "the LTI user comes back as the same account"


def record_timings(facts):
    os.makedirs(os.path.join(REPO, "test-artifacts"), exist_ok=True)
    with open(os.path.join(REPO, "test-artifacts", "backup.json"), "w") as f:
        json.dump({name: value for name, value in facts.items() if name != "backup_output"}, f, indent=2)
