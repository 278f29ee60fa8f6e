"""The system's user database (/etc/passwd, shadow, group, gshadow), edited in one batch.

Per-user `useradd` + `chpasswd` costs grow with the size of /etc/passwd, so syncing thousands of
accounts that way is quadratic. Like systemd-sysusers, we rewrite the files once, under the
same lock the shadow tools take (lckpwdf), each file replaced atomically. Entries we do not
manage (the image's system accounts) are kept byte for byte.
"""

import contextlib
import ctypes
import logging
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

ETC_FILES = {"passwd": 0o644, "group": 0o644, "shadow": 0o640, "gshadow": 0o640}
LOGIN_SHELL = "/bin/bash"
SYSTEM_UID_MAX = 999
LOCK_PREFIX = "!"
NO_PASSWORD = "!"


@dataclass
class User:
    login: str
    uid: int
    password_hash: str  # the shadow field: a crypt hash, or starts with "!" when locked
    home: str


@dataclass
class Group:
    name: str
    gid: int
    members: list


def locked(password_hash):
    return password_hash if password_hash.startswith(LOCK_PREFIX) else LOCK_PREFIX + password_hash


def unlocked(password_hash):
    return password_hash[len(LOCK_PREFIX):] if password_hash.startswith(LOCK_PREFIX) else password_hash


@contextlib.contextmanager
def _password_lock():
    """The lock passwd/useradd/chpasswd take, so none of them writes while we do."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.lckpwdf() != 0:
        raise OSError(ctypes.get_errno(), "cannot lock the password files (lckpwdf)")
    try:
        yield
    finally:
        libc.ulckpwdf()


class EtcFiles:
    """The four files as ordered {name: fields} tables, read once and written once."""

    def __init__(self, etc="/etc"):
        self.etc = etc
        self.tables = {name: self._read(name) for name in ETC_FILES}
        self._original = {name: dict(table) for name, table in self.tables.items()}

    def _read(self, name):
        table = {}
        path = os.path.join(self.etc, name)
        if not os.path.exists(path):
            return table
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    fields = line.split(":")
                    table[fields[0]] = fields
        return table

    def user_ids(self):
        return {int(fields[2]) for fields in self.tables["passwd"].values()}

    def group_ids(self):
        return {int(fields[2]) for fields in self.tables["group"].values()}

    def system_logins(self, managed):
        """Logins that belong to the image, not to the hub (root, daemons, ...)."""
        return {login for login in self.tables["passwd"] if login not in managed}

    def shadow_hash(self, login):
        fields = self.tables["shadow"].get(login)
        return fields[1] if fields else None

    def set_user(self, user):
        home_group = self.tables["group"].get(user.login)
        members = home_group[3] if home_group else ""
        self.tables["passwd"][user.login] = [
            user.login, "x", str(user.uid), str(user.uid), "", user.home, LOGIN_SHELL
        ]
        self.tables["group"][user.login] = [user.login, "x", str(user.uid), members]
        self.tables["gshadow"][user.login] = [user.login, "!", "", members]
        old = self.tables["shadow"].get(user.login)
        if old and old[1] == user.password_hash:
            return
        today = str(int(time.time() // 86400))
        self.tables["shadow"][user.login] = [user.login, user.password_hash, today, "0", "99999", "7", "", "", ""]

    def remove_user(self, login):
        """Drop a user and their personal group (course groups are rewritten by the caller)."""
        for name in ETC_FILES:
            self.tables[name].pop(login, None)

    def set_group(self, group):
        members = ",".join(sorted(group.members))
        self.tables["group"][group.name] = [group.name, "x", str(group.gid), members]
        self.tables["gshadow"][group.name] = [group.name, "!", "", members]

    def changed(self):
        return [name for name in ETC_FILES if self.tables[name] != self._original[name]]

    def write(self):
        """Write the files that changed; returns their names."""
        names = self.changed()
        if not names:
            return names
        with _password_lock():
            for name in names:
                self._replace(name)
        self._original = {name: dict(table) for name, table in self.tables.items()}
        return names

    def _replace(self, name):
        path = os.path.join(self.etc, name)
        stat = os.stat(path) if os.path.exists(path) else None
        # Keep a "-" backup like the shadow tools do, for an admin who needs to look back.
        if stat:
            shutil.copy2(path, path + "-")
        fd, tmp = tempfile.mkstemp(dir=self.etc, prefix=f".{name}.")
        with os.fdopen(fd, "w") as f:
            f.writelines(":".join(fields) + "\n" for fields in self.tables[name].values())
        if stat:
            os.chown(tmp, stat.st_uid, stat.st_gid)
            os.chmod(tmp, stat.st_mode & 0o7777)
        else:
            os.chmod(tmp, ETC_FILES[name])
        os.replace(tmp, path)


def skeleton(skel="/etc/skel"):
    """The files of /etc/skel as [(name, bytes)], read once per sync (top level only: that is
    all Debian puts there)."""
    if not os.path.isdir(skel):
        return []
    files = []
    for entry in os.scandir(skel):
        if entry.is_file(follow_symlinks=False):
            with open(entry.path, "rb") as f:
                files.append((entry.name, f.read()))
    return files


def ensure_home(homes, user, skel_files=()):
    """Create the home (0700, with the skeleton files) if missing; fix owner and mode if not.

    `homes` is the open folder of all homes; the home is reached through it without following
    a link (Tampered if it is one). Returns True when the home was created."""
    name = os.path.basename(user.home)
    found = homes.entry(name)
    if found and stat.S_ISDIR(found.st_mode) and (found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) == (
            user.uid, user.uid, 0o700):
        return False  # as it should be: nothing to do, so nothing to open (a sync looks at every home)
    try:
        home = homes.child(name)
        created = False
    except FileNotFoundError:
        os.mkdir(name, 0o700, dir_fd=homes.fd)
        home = homes.child(name)
        created = True
    with home:
        if created:
            for skel_name, content in skel_files:
                home.write_new_file(skel_name, content, user.uid, user.uid)
        home.set_owner_mode(user.uid, user.uid, 0o700)
    return created


def home_owner(home):
    """The UID owning an existing home folder (not a link), or None: a home's owner is who
    the user was."""
    try:
        st = os.lstat(home)
    except FileNotFoundError:
        return None
    return st.st_uid if stat.S_ISDIR(st.st_mode) else None
