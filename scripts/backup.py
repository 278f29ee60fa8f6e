#!/usr/bin/env python3
"""Back up and restore the hub's four volumes (docs/operations.md): `scripts/backup`, `scripts/restore`.

One archive, `hub-YYYYmmdd-HHMMSS.tar.gz`, holds the volumes' files with their numeric owners and
modes under `volumes/<volume>/`, then `manifest.json`: the sha256, owner and mode of every entry,
the hub's users and the account registry.

This file runs twice. On the host (python3, standard library only) it asks `docker compose` (or,
for a swarm stack, `docker service`) which volumes and image the project has, verifies archives and decides what may be changed. In a helper
container started from the hub's own image (`python3 -c <this file> _helper ...`) it does what
needs root and the volumes: SQLite online backups, writing and extracting the tar stream, and
checking the restored files against the manifest.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib

# In the helper container this file runs from `python3 -c`, without a __file__ (nor a checkout).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) if "__file__" in globals() else None
HUB_SERVICE = "hub"
# Compose volume key -> where the hub mounts it (docker-compose.yml).
VOLUMES = {
    "jh_home": "/home",
    "jh_exchange": "/srv/nbgrader/exchange",
    "jh_courses": "/srv/nbgrader/courses",
    "jh_state": "/srv/jupyterhub/state",
}
ARCHIVE_FORMAT = "teaching-hub-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_DIR = "volumes"  # archive members are volumes/<volume key>/<path in the volume>
HELPER_ROOT = "/"  # the helper mounts each volume at /volumes/<volume key>
SQLITE_MAGIC = b"SQLite format 3\x00"
# A database's side files: the online backup already holds their committed content, and an old
# -wal or -journal restored next to that copy would be replayed into it.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
REGISTRY_KEY = "jh_state/registry.sqlite"
CHUNK = 1 << 20
FIRST_HUB_ID, NOBODY_ID = 1000, 65534

EXIT_FAILED, EXIT_BAD_ARCHIVE, EXIT_REFUSED, EXIT_NOT_RESTORED = 1, 3, 4, 5


class Failure(Exception):
    """An error to show the operator as is, with the exit status it deserves."""

    def __init__(self, message, status=EXIT_FAILED):
        super().__init__(message)
        self.status = status


# --- Entry records: the same shape from a volume, an archive member and the manifest ---------


def octal(mode):
    return format(stat.S_IMODE(mode), "04o")


def record(kind, uid, gid, mode=None, size=None, sha256=None, target=None):
    """What the manifest keeps about one entry. A symlink has no mode worth keeping (Linux
    cannot set one); a file's content is its size and sha256."""
    entry = {"type": kind, "uid": uid, "gid": gid}
    if kind == "dir":
        entry["mode"] = octal(mode)
    elif kind == "file":
        entry.update(mode=octal(mode), size=size, sha256=sha256)
    elif kind == "symlink":
        entry["target"] = target
    return entry


def unsafe(key, entry):
    """Why an entry must never be restored, or None. An archive can be made by hand: whatever
    its manifest says, a restore must not hand a user a way to root."""
    mode = int(entry.get("mode") or "0", 8)
    if mode & stat.S_ISUID:
        return "setuid"
    if entry["type"] == "file" and mode & stat.S_ISGID:
        return "a setgid file"
    parts = key.split("/")
    if parts[0] == "jh_home" and len(parts) == 2 and entry["type"] != "dir":
        return f"a home that is a {entry['type']}, not a folder"
    # A link's owner gives nothing (the hub's ~/courses links are root's); a file's or folder's can.
    if parts[0] == "jh_home" and len(parts) > 1 and entry["uid"] == 0 and entry["type"] != "symlink":
        return "owned by root inside users' homes"
    return None


def unsafe_ids(registry_ids):
    """Registry users and course groups whose ids a hub never gives (system ids, nobody)."""
    return [f"{REGISTRY_KEY}: {what} has id {number}, outside the hub's range "
            f"({FIRST_HUB_ID}-{NOBODY_ID - 1})" for what, number in registry_ids
            if not FIRST_HUB_ID <= number < NOBODY_ID]


def differences(expected, found):
    """Each path whose record differs, is missing or is extra, as one readable line."""
    problems = []
    for key in sorted(expected.keys() | found.keys()):
        want, have = expected.get(key), found.get(key)
        if have is None:
            problems.append(f"{key}: missing")
        elif want is None:
            problems.append(f"{key}: not in the manifest")
        elif want != have:
            fields = sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))
            changes = (f"{name} {have.get(name)!r}, expected {want.get(name)!r}" for name in fields)
            problems.append(f"{key}: " + ", ".join(changes))
    return problems


def sha256_of(stream):
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def member_record(tar, member):
    """The record of an archive member, hashing its content."""
    if member.isdir():
        return record("dir", member.uid, member.gid, member.mode)
    if member.issym():
        return record("symlink", member.uid, member.gid, target=member.linkname)
    if member.isreg():
        return record("file", member.uid, member.gid, member.mode, member.size, sha256_of(tar.extractfile(member)))
    raise Failure(f"archive member {member.name!r} is neither a file, a directory nor a symlink", EXIT_BAD_ARCHIVE)


# --- Container side: runs as root in the helper container, the volumes under /volumes ---------


def volume_root(volume):
    return os.path.join(HELPER_ROOT, DATA_DIR, volume)


def walk(volume):
    """(key, path, lstat) of a volume's root and everything in it, parents before children,
    sorted, never following symlinks. Entries that vanish while we look are passed over."""
    root = volume_root(volume)
    yield volume, root, os.lstat(root)
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(directory, name)
            try:
                yield volume + "/" + os.path.relpath(path, root), path, os.lstat(path)
            except FileNotFoundError:
                continue


def warn(message):
    print(f"backup: warning: {message}", file=sys.stderr, flush=True)


def sqlite_snapshot(path, spool_dir, fd):
    """A consistent copy of a live SQLite database, made with SQLite's online backup API: it
    reads one committed state, whatever the hub writes meanwhile. Returns the copy's path.

    Databases in the hub-state volume (WAL mode, which needs its side files by name) are opened
    by name: only root writes there. Any other (a course's gradebook, a user's own database) is
    opened read-only through the descriptor already checked, never again by a name that its
    owner could swap for a link meanwhile."""
    handle, copy = tempfile.mkstemp(dir=spool_dir, suffix=".sqlite")
    os.close(handle)
    root_only = path.startswith(volume_root("jh_state") + "/")
    source = sqlite3.connect(path if root_only else f"file:/proc/self/fd/{fd}?mode=ro", timeout=60,
                             uri=not root_only)
    try:
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    return copy


class HashingReader:
    """Reads exactly `size` bytes of a file, hashing them. A file that shrinks while it is read is
    padded with zeros (as GNU tar does) and reported, so the archive stays readable."""

    def __init__(self, stream, size):
        self.stream, self.remaining, self.digest, self.short = stream, size, hashlib.sha256(), False

    def read(self, wanted=-1):
        wanted = self.remaining if wanted < 0 else min(wanted, self.remaining)
        data = self.stream.read(wanted)
        if len(data) < wanted:
            self.short = True
            data += b"\0" * (wanted - len(data))
        self.remaining -= len(data)
        self.digest.update(data)
        return data


class ArchiveWriter:
    """The tar stream of the volumes, with the manifest's entries collected on the way."""

    def __init__(self, out, spool_dir):
        self.tar = tarfile.open(fileobj=out, mode="w|gz", compresslevel=6, format=tarfile.PAX_FORMAT)
        self.spool_dir = spool_dir
        self.entries, self.sqlite, self.changed, self.skipped = {}, [], [], []
        self.snapshotted = set()  # paths of databases copied with the online backup API
        self.registry = None

    def tar_info(self, key, st, kind):
        info = tarfile.TarInfo(f"{DATA_DIR}/{key}")
        info.type, info.mode, info.mtime = kind, stat.S_IMODE(st.st_mode), st.st_mtime
        info.uid, info.gid, info.uname, info.gname = st.st_uid, st.st_gid, "", ""
        return info

    def add(self, key, path, st):
        if stat.S_ISDIR(st.st_mode):
            self.tar.addfile(self.tar_info(key, st, tarfile.DIRTYPE))
            self.entries[key] = record("dir", st.st_uid, st.st_gid, st.st_mode)
        elif stat.S_ISLNK(st.st_mode):
            info = self.tar_info(key, st, tarfile.SYMTYPE)
            info.linkname = os.readlink(path)
            self.tar.addfile(info)
            self.entries[key] = record("symlink", st.st_uid, st.st_gid, target=info.linkname)
        elif stat.S_ISREG(st.st_mode):
            self.add_file(key, path)
        else:
            self.skipped.append(key)  # sockets, fifos, devices: nothing a hub keeps
            warn(f"{key}: not a file, directory or symlink, left out")

    def is_side_file(self, path):
        return any(path.endswith(suffix) and path[: -len(suffix)] in self.snapshotted for suffix in SQLITE_SIDE_FILES)

    def add_file(self, key, path):
        if self.is_side_file(path):
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return
        with open(fd, "rb") as stream:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return
            if os.pread(fd, len(SQLITE_MAGIC), 0) == SQLITE_MAGIC:
                snapshot = self.try_sqlite_snapshot(key, path, fd)
                if snapshot:
                    return self.add_content(key, st, snapshot)
            self.add_stream(key, st, stream, st.st_size)

    def try_sqlite_snapshot(self, key, path, fd):
        try:
            snapshot = sqlite_snapshot(path, self.spool_dir, fd)
        except sqlite3.Error as error:
            warn(f"{key}: SQLite online backup failed ({error}); copied as a plain file, which may be inconsistent")
            return None
        self.snapshotted.add(path)
        self.sqlite.append(key)
        return snapshot

    def add_content(self, key, st, snapshot):
        """The database copy, under the original's name, owner and mode."""
        try:
            if key == REGISTRY_KEY:
                self.registry = registry_summary(snapshot)  # the very copy the archive holds
            with open(snapshot, "rb") as stream:
                self.add_stream(key, st, stream, os.fstat(stream.fileno()).st_size)
        finally:
            os.unlink(snapshot)

    def add_stream(self, key, st, stream, size):
        info = self.tar_info(key, st, tarfile.REGTYPE)
        info.size = size
        reader = HashingReader(stream, size)
        self.tar.addfile(info, reader)
        if reader.short or stream.read(1):
            self.changed.append(key)
            warn(f"{key}: changed while it was read; the archive holds what was read")
        self.entries[key] = record("file", st.st_uid, st.st_gid, st.st_mode, size, reader.digest.hexdigest())

    def add_manifest(self, manifest):
        data = json.dumps(manifest, indent=1, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode, info.mtime = len(data), 0o600, time.time()
        self.tar.addfile(info, io.BytesIO(data))
        self.tar.close()


def registry_summary(path):
    """Who the registry says the hub's users and courses are (never their password hashes)."""
    db = sqlite3.connect(path)
    try:
        users = db.execute("SELECT login, uid, origin, active FROM users ORDER BY uid").fetchall()
        courses = db.execute("SELECT course, student_gid, instructor_gid FROM courses ORDER BY course").fetchall()
        memberships = db.execute("SELECT login, course, role, origin FROM memberships ORDER BY course, login").fetchall()
    except sqlite3.Error as error:
        return {"error": str(error)}
    finally:
        db.close()
    return {
        "users": [dict(zip(("login", "uid", "origin", "active"), row)) for row in users],
        "courses": [dict(zip(("course", "student_gid", "instructor_gid"), row)) for row in courses],
        "memberships": [dict(zip(("login", "course", "role", "origin"), row)) for row in memberships],
    }


def helper_archive():
    """Write the archive to stdout; the host's facts (project, hub users...) come on stdin."""
    facts = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as spool_dir:
        writer = ArchiveWriter(sys.stdout.buffer, spool_dir)
        for volume in VOLUMES:
            before = len(writer.entries)
            for key, path, st in walk(volume):
                writer.add(key, path, st)
            print(f"backup: {volume}: {len(writer.entries) - before} entries", file=sys.stderr, flush=True)
        manifest = dict(
            facts, format=ARCHIVE_FORMAT, version=FORMAT_VERSION, volumes=VOLUMES, registry=writer.registry,
            sqlite_online_backups=writer.sqlite, changed_during_backup=writer.changed, left_out=writer.skipped,
            entries=writer.entries,
        )
        writer.add_manifest(manifest)
    sys.stdout.buffer.flush()


def helper_count():
    """How many entries each mounted volume holds (volumes not mounted are left out)."""
    counts = {volume: len(os.listdir(volume_root(volume))) for volume in VOLUMES if os.path.isdir(volume_root(volume))}
    print(json.dumps(counts))


def wipe(volume):
    """Remove everything in a volume, keeping the volume itself."""
    root = volume_root(volume)
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def safe_member_filter():
    """A tar extraction filter for our own archives: every bit of mode (setgid, sticky) and the
    numeric owners are kept, as `fully_trusted` does; but a member may only land inside its
    volume, be a file, directory or symlink, and never go through a symlink."""
    symlinks = set()

    def check(member, dest):
        parts = member.name.split("/")
        if parts[0] != DATA_DIR or len(parts) < 2 or parts[1] not in VOLUMES or {"", ".", ".."} & set(parts):
            raise tarfile.FilterError(f"archive member {member.name!r} is outside the volumes")
        if not (member.isdir() or member.isreg() or member.issym()):
            raise tarfile.FilterError(f"archive member {member.name!r} is neither a file, a directory nor a symlink")
        kind = "dir" if member.isdir() else "symlink" if member.issym() else "file"
        why = unsafe("/".join(parts[1:]), record(kind, member.uid, member.gid, member.mode))
        if why:
            raise tarfile.FilterError(f"archive member {member.name!r} is refused: {why}")
        if any("/".join(parts[:i]) in symlinks for i in range(2, len(parts))):
            raise tarfile.FilterError(f"archive member {member.name!r} lies under a symlink")
        if member.issym():
            symlinks.add(member.name)
        return member

    return check


def extract(stream):
    """Extract the archive's volumes from `stream`; returns its manifest."""
    manifest = {}
    tar = tarfile.open(fileobj=stream, mode="r|gz", errorlevel=2)

    def volume_members():
        for member in tar:
            if member.name == MANIFEST:
                manifest.update(json.load(tar.extractfile(member)))
            else:
                yield member

    tar.extractall(HELPER_ROOT, members=volume_members(), numeric_owner=True, filter=safe_member_filter())
    return manifest


def disk_record(path, st):
    if stat.S_ISDIR(st.st_mode):
        return record("dir", st.st_uid, st.st_gid, st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return record("symlink", st.st_uid, st.st_gid, target=os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as stream:
            return record("file", st.st_uid, st.st_gid, st.st_mode, st.st_size, sha256_of(stream))
    return {"type": "other"}


def volume_records():
    return {key: disk_record(path, st) for volume in VOLUMES for key, path, st in walk(volume)}


def helper_restore(wipe_first):
    """Extract stdin's archive into the mounted volumes, then compare them with its manifest."""
    if wipe_first:
        for volume in VOLUMES:
            wipe(volume)
    manifest = extract(sys.stdin.buffer)
    problems = differences(manifest.get("entries", {}), volume_records()) if manifest else ["no manifest.json"]
    print(json.dumps({"entries": len(manifest.get("entries", {})), "problems": problems}))
    return 1 if problems else 0


def helper_main(argv):
    action = argv[0]
    if action == "archive":
        return helper_archive()
    if action == "count":
        return helper_count()
    if action == "restore":
        return helper_restore(wipe_first="--wipe" in argv[1:])
    raise SystemExit(f"unknown helper action {action!r}")


# --- Host side: docker compose, the helper container, archive checks -------------------------


class Project:
    """The compose project as `docker compose config` resolves it: its name, the hub's image and
    the Docker volume behind each volume key (e.g. jh_home -> main_jh_home)."""

    kind = "compose project"

    def __init__(self, name_option):
        self.name_option = name_option
        config = json.loads(self.compose("config", "--format", "json").stdout)
        self.name = config["name"]
        # Compose names an image it builds without an `image:` key <project>-<service>.
        self.image = config["services"][HUB_SERVICE].get("image") or f"{self.name}-{HUB_SERVICE}"
        self.volumes = {key: config["volumes"][key]["name"] for key in VOLUMES}

    def compose(self, *args, check=True):
        command = ["docker", "compose", *(["-p", self.name_option] if self.name_option else []), *args]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise Failure(f"`{shlex.join(command)}` failed:\n{result.stderr.strip()}")
        return result

    def hub_running(self):
        return bool(self.compose("ps", "-q", HUB_SERVICE).stdout.strip())

    def existing_volumes(self):
        return {key: name for key, name in self.volumes.items() if docker_ok("volume", "inspect", name)}

    def create_volume(self, key):
        """The volume, labelled as compose labels its own so `docker compose up` adopts it."""
        version = docker_output("compose", "version", "--short").strip()
        docker_output(
            "volume", "create", "--label", f"com.docker.compose.project={self.name}",
            "--label", f"com.docker.compose.volume={key}", "--label", f"com.docker.compose.version={version}",
            self.volumes[key],
        )

    def hub_accounts(self):
        if not self.hub_running():
            return None
        return accounts_of(lambda *command: self.compose("exec", "-T", HUB_SERVICE, *command).stdout)

    def stop_hub(self):
        print("stopping the hub (docker compose stop hub) while its volumes are replaced")
        self.compose("stop", HUB_SERVICE)

    def start_hub(self):
        self.compose("start", HUB_SERVICE)
        print("hub started again (docker compose start hub)")

    def start_hint(self):
        return "docker compose" + (f" -p {self.name_option}" if self.name_option else "") + " up -d"


class SwarmStack(Project):
    """A `docker stack deploy` of docker-stack.yml: volumes <stack>_<key>, service <stack>_hub.
    Run on the manager that holds jh_state (where the hub runs)."""

    kind = "stack"

    def __init__(self, name):
        self.name, self.name_option = name, None
        self.service = f"{name}_{HUB_SERVICE}"
        try:
            spec = json.loads(docker_output("service", "inspect", "--format", "{{json .Spec}}", self.service))
        except Failure:
            raise Failure(f"no service {self.service} here: is {name!r} the stack's name (docker stack ls), "
                          "and is this a manager of the swarm?")
        self.image = spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]  # without the digest pin
        self.volumes = {key: f"{name}_{key}" for key in VOLUMES}

    def hub_container(self):
        return docker_output("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.service}").split()

    def hub_running(self):
        return bool(self.hub_container())

    def create_volume(self, key):
        docker_output("volume", "create", "--label", f"com.docker.stack.namespace={self.name}", self.volumes[key])

    def hub_accounts(self):
        running = self.hub_container()
        if not running:
            return None
        return accounts_of(lambda *command: docker_output("exec", running[0], *command))

    def stop_hub(self):
        print(f"stopping the hub (docker service scale {self.service}=0) while its volumes are replaced")
        docker_output("service", "scale", "--detach", f"{self.service}=0")
        deadline = time.monotonic() + 120
        while self.hub_container():
            if time.monotonic() > deadline:
                raise Failure(f"the hub's container is still there 120 s after scaling {self.service} to 0")
            time.sleep(1)

    def start_hub(self):
        docker_output("service", "scale", "--detach", f"{self.service}=1")
        print(f"hub started again (docker service scale {self.service}=1)")

    def start_hint(self):
        return f"docker service scale {self.service}=1"


def accounts_of(run_in_hub):
    """Users and groups with ids from 1000 in the running hub's /etc."""
    passwd, group = run_in_hub("getent", "passwd"), run_in_hub("getent", "group")
    return {
        "source": "/etc/passwd and /etc/group of the running hub",
        "users": [{"login": f[0], "uid": int(f[2]), "gid": int(f[3]), "home": f[5]}
                  for f in fields_of(passwd) if FIRST_HUB_ID <= int(f[2]) < NOBODY_ID],
        "groups": [{"group": f[0], "gid": int(f[2]), "members": [m for m in f[3].split(",") if m]}
                   for f in fields_of(group) if FIRST_HUB_ID <= int(f[2]) < NOBODY_ID],
    }


def project_of(args):
    return SwarmStack(args.stack) if args.stack else Project(args.project)


def hub_projects():
    """Compose projects on this machine that have a hub-state volume."""
    names = docker_output("volume", "ls", "--filter", "label=com.docker.compose.volume=jh_state",
                          "--format", '{{.Label "com.docker.compose.project"}}')
    return sorted(set(names.split()))


def fields_of(etc_text):
    return [line.split(":") for line in etc_text.splitlines() if line.count(":") >= 3]


def docker_ok(*args):
    return subprocess.run(["docker", *args], capture_output=True).returncode == 0


def docker_output(*args):
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise Failure(f"`{shlex.join(['docker', *args])}` failed:\n{result.stderr.strip()}")
    return result.stdout


def helper_command(project, volumes, action, *args, read_only=False, stdin=False):
    """`docker run` of this file in the hub's image, with `volumes` mounted under /volumes.
    Its log driver is off: the archive goes through its stdout and must not be logged too."""
    mounts = []
    for key in volumes:
        spec = f"type=volume,source={project.volumes[key]},target=/{DATA_DIR}/{key}" + (",readonly" if read_only else "")
        mounts += ["--mount", spec]
    with open(os.path.abspath(__file__)) as f:
        source = f.read()
    return [
        "docker", "run", "--rm", *(["-i"] if stdin else []), "--pull", "never", "--network", "none",
        "--log-driver", "none", "--user", "0:0", "--entrypoint", "python3", *mounts,
        project.image, "-c", source, "_helper", action, *args,
    ]


def require_image(project):
    if not docker_ok("image", "inspect", project.image):
        raise Failure(f"the hub image {project.image} is not on this machine: build it first with `docker compose build`")


def image_version(image):
    labels = json.loads(docker_output("image", "inspect", "--format", "{{json .Config.Labels}}", image)) or {}
    return labels.get("org.opencontainers.image.version")


def human_size(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def archive_path(directory):
    """A new dated archive name in `directory`; never an existing one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ["", *(f"-{n}" for n in range(1, 100))]:
        path = os.path.join(directory, f"hub-{stamp}{suffix}.tar.gz")
        if not os.path.exists(path):
            return path
    raise Failure(f"too many archives named hub-{stamp}*.tar.gz in {directory}")


def backup(args):
    started = time.monotonic()
    project = project_of(args)
    missing = sorted(set(project.volumes.values()) - set(project.existing_volumes().values()))
    if missing:
        raise Failure(
            f"volume(s) {', '.join(missing)} of {project.kind} {project.name!r} do not exist: nothing to back up. "
            f"Is the project name right (-p NAME, or COMPOSE_PROJECT_NAME)? Projects with hub volumes here: "
            f"{', '.join(hub_projects()) or 'none'}"
        )
    require_image(project)
    facts = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "project": project.name,
        "hub_image": {"name": project.image, "version": image_version(project.image)},
        "hub_accounts": project.hub_accounts(),
    }
    os.makedirs(args.output, mode=0o700, exist_ok=True)
    path = archive_path(os.path.abspath(args.output))
    write_archive(project, path, facts)
    size = os.path.getsize(path)
    print(f"{path}\n  {human_size(size)} ({size} bytes), made in {time.monotonic() - started:.1f} s")
    return 0


def write_archive(project, path, facts):
    """Stream the helper's archive into `path`, readable only by its owner: it holds password
    hashes and the hub's secrets. A failed backup leaves no archive behind."""
    partial = path + ".partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(fd, "wb") as out:
            command = helper_command(project, VOLUMES, "archive", stdin=True)
            helper = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out)
            helper.communicate(json.dumps(facts).encode())
        if helper.returncode != 0:
            raise Failure(f"the backup helper container failed (exit {helper.returncode}); no archive was written")
        os.rename(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def read_manifest(tar, member):
    try:
        manifest = json.load(tar.extractfile(member))
    except ValueError as error:
        raise Failure(f"{MANIFEST} is not valid JSON ({error})", EXIT_BAD_ARCHIVE)
    if manifest.get("format") != ARCHIVE_FORMAT:
        raise Failure(f"{MANIFEST} is not a teaching-hub backup manifest", EXIT_BAD_ARCHIVE)
    if not isinstance(manifest.get("entries"), dict):
        raise Failure(f"{MANIFEST} lists no entries", EXIT_BAD_ARCHIVE)
    if not isinstance(manifest.get("version"), int) or manifest["version"] > FORMAT_VERSION:
        raise Failure(f"archive format version {manifest.get('version')!r} is newer than this script's "
                      f"({FORMAT_VERSION}): update this checkout (git pull) and try again", EXIT_BAD_ARCHIVE)
    return manifest


def scan_archive(path):
    """Every member's record, the manifest and the ids of the archived registry, reading the
    whole file: gzip's CRC and length catch corruption and truncation anywhere, even after the
    last tar member."""
    found, manifest, ids = {}, None, []
    with gzip.open(path, "rb") as stream:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    manifest = read_manifest(tar, member)
                elif member.name.startswith(DATA_DIR + "/"):
                    key = member.name[len(DATA_DIR) + 1:]
                    if key == REGISTRY_KEY and member.isreg():  # a stream is read once: hash and keep it
                        data = tar.extractfile(member).read()
                        ids = registry_ids(data)
                        found[key] = record("file", member.uid, member.gid, member.mode, member.size,
                                            hashlib.sha256(data).hexdigest())
                    else:
                        found[key] = member_record(tar, member)
                else:
                    raise Failure(f"unexpected member {member.name!r}", EXIT_BAD_ARCHIVE)
        while stream.read(CHUNK):
            pass
    return found, manifest, ids


def registry_ids(data):
    """[(what, id)] of the users and course groups of an archived registry (read from a copy)."""
    with tempfile.NamedTemporaryFile(suffix=".sqlite") as copy:
        copy.write(data)
        copy.flush()
        db = sqlite3.connect(f"file:{copy.name}?mode=ro", uri=True)
        try:
            users = db.execute("SELECT login, uid FROM users").fetchall()
            groups = db.execute("SELECT course, student_gid, instructor_gid FROM courses").fetchall()
        except sqlite3.Error as error:
            raise Failure(f"{REGISTRY_KEY} is not a readable registry ({error})", EXIT_BAD_ARCHIVE)
        finally:
            db.close()
    return ([(f"user {login!r}", uid) for login, uid in users]
            + [(f"course {course!r}'s groups", gid) for course, *gids in groups for gid in gids])


def verify_archive(path):
    """The archive's manifest, once the whole archive is known to match it; else Failure."""
    if not os.path.isfile(path):
        raise Failure(f"{path}: no such archive", EXIT_BAD_ARCHIVE)
    try:
        found, manifest, ids = scan_archive(path)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise Failure(f"{path} is damaged (truncated or corrupt: {str(error) or type(error).__name__}). "
                      "Nothing was changed: use another archive, or copy this one again from where it is kept",
                      EXIT_BAD_ARCHIVE)
    except Failure as failure:
        raise Failure(f"{path} is not a usable backup: {failure}", EXIT_BAD_ARCHIVE)
    if manifest is None:
        raise Failure(f"{path} has no {MANIFEST}: not a complete teaching-hub backup", EXIT_BAD_ARCHIVE)
    problems = differences(manifest["entries"], found)
    if problems:
        listed = "\n  ".join(problems[:20])
        raise Failure(f"{path} does not match its manifest ({len(problems)} problems):\n  {listed}", EXIT_BAD_ARCHIVE)
    refused = [f"{key}: {why}" for key, entry in sorted(found.items()) if (why := unsafe(key, entry))]
    refused += unsafe_ids(ids)
    if refused:
        listed = "\n  ".join(refused[:50])
        raise Failure(f"{path} is refused: it would bring back what gives a user root ({len(refused)} entries). "
                      f"Nothing was changed. Restore only archives made by scripts/backup and kept where only "
                      f"admins can write (docs/operations.md):\n  {listed}", EXIT_BAD_ARCHIVE)
    return manifest


def describe(manifest):
    files = sum(entry["type"] == "file" for entry in manifest["entries"].values())
    users = len((manifest.get("registry") or {}).get("users", []))
    return (f"{len(manifest['entries'])} entries ({files} files), {users} registry users, "
            f"made {manifest.get('created')} from project {manifest.get('project')!r}")


def volume_contents(project):
    """{volume key: number of entries} of the project's existing volumes, read-only."""
    existing = project.existing_volumes()
    if not existing:
        return {}
    result = subprocess.run(helper_command(project, existing, "count", read_only=True), capture_output=True, text=True)
    if result.returncode != 0:
        raise Failure(f"could not look into the volumes {', '.join(existing.values())}:\n{result.stderr.strip()}")
    return json.loads(result.stdout)


def restore(args):
    started = time.monotonic()
    manifest = verify_archive(args.archive)
    print(f"{args.archive}: OK, {describe(manifest)} (checked in {time.monotonic() - started:.1f} s)")
    if args.check:
        return 0
    project = project_of(args)
    require_image(project)
    contents = volume_contents(project)
    in_use = [project.volumes[key] for key, count in contents.items() if count]
    if in_use and not args.force:
        raise Failure(
            f"volume(s) {', '.join(in_use)} of project {project.name!r} are not empty: restoring would replace "
            f"their contents. Nothing was changed. To replace them: {restore_command(args, '--force')}",
            EXIT_REFUSED,
        )
    if in_use:
        print(f"--force: the contents of {', '.join(in_use)} will be replaced by the archive's")
    was_running = project.hub_running()
    if was_running:
        project.stop_hub()
    for key in VOLUMES.keys() - contents.keys():
        project.create_volume(key)
    restored_at = time.monotonic()
    report = restore_volumes(project, args.archive, wipe_first=bool(in_use))
    seconds = time.monotonic() - restored_at
    print(f"restored and verified {report['entries']} entries (content, owner, mode) in {seconds:.1f} s")
    if was_running:
        project.start_hub()
    else:
        print(f"start the hub with: {project.start_hint()}")
    print(f"restore done in {time.monotonic() - started:.1f} s")
    return 0


def restore_command(args, *options):
    """The command line to suggest, with the project option the operator gave."""
    project = ["--stack", args.stack] if args.stack else ["-p", args.project] if args.project else []
    return " ".join(["scripts/restore", *project, *options, args.archive])


def restore_volumes(project, archive, wipe_first):
    """Run the helper that extracts the archive and checks the result; its report on success."""
    command = helper_command(project, VOLUMES, "restore", *(["--wipe"] if wipe_first else []), stdin=True)
    with open(archive, "rb") as stream:
        result = subprocess.run(command, stdin=stream, capture_output=True, text=True)
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        report = {"problems": [result.stderr.strip()[-2000:] or f"helper exited with {result.returncode}"]}
    if result.returncode != 0 or report["problems"]:
        raise Failure(
            f"the restore into {', '.join(project.volumes.values())} failed or does not match the archive:\n  "
            + "\n  ".join(report["problems"][:20])
            + "\nThe volumes are in an unknown state and the hub stays stopped: run the restore again with --force"
            " (from another archive if this one fails again) before starting it.",
            EXIT_NOT_RESTORED,
        )
    return report


def parser():
    project = argparse.ArgumentParser(add_help=False)
    which = project.add_mutually_exclusive_group()
    which.add_argument("-p", "--project", help="compose project name (default: COMPOSE_PROJECT_NAME, else compose's "
                       "default for this checkout's directory)")
    which.add_argument("--stack", help="a swarm stack of docker-stack.yml instead (its name in docker stack ls); "
                       "run on the manager where the hub runs")
    top = argparse.ArgumentParser(prog="backup.py", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    make = commands.add_parser("backup", parents=[project], prog="scripts/backup",
                               help="write one dated archive of the hub's volumes")
    make.add_argument("--output", "-o", default=os.path.join(REPO, "backups"),
                      help="directory for the archive (default: backups/)")
    make.set_defaults(func=backup)
    back = commands.add_parser(
        "restore", parents=[project], prog="scripts/restore", help="restore an archive into the hub's volumes",
        epilog="exit status: 0 restored (or checked), 3 archive damaged or not a backup (nothing changed), 4 refused: "
        "volumes not empty (nothing changed), 5 restore failed or does not match the archive, 1 other errors",
    )
    back.add_argument("archive", help="a hub-YYYYmmdd-HHMMSS.tar.gz from scripts/backup")
    back.add_argument("--force", action="store_true",
                      help="replace the contents of non-empty volumes (stops the hub meanwhile)")
    back.add_argument("--check", action="store_true", help="only verify the archive, change nothing")
    back.set_defaults(func=restore)
    return top


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_helper"]:
        return helper_main(argv[1:])
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
