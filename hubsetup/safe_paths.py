"""What root does below folders that users can write: through open folders, never by name.

The hub runs as root beside users' code. A call that follows links (os.makedirs, chown, chmod,
open) on a path below a home, the exchange or a course directory lets whoever can write there
redirect it: swap an entry for a link between root's check and root's act, and root chowns
/etc. So every such operation goes through this module. Each level is opened with
O_NOFOLLOW | O_DIRECTORY relative to its parent's descriptor, checked with fstat, and changed
through the descriptor; an entry that is not what root expects raises `Tampered`, which
callers turn into a warning for that one entry (one user's mischief never stops a sync).
"""

import contextlib
import errno
import os
import secrets
import shutil
import stat
import tempfile
import time

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Every file root opens below a user's folder: never through a link, never blocking on a fifo.
FILE_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# The largest file root copies out of a user's folder (a gradebook of a large course is tens of MB).
MAX_COPY = 1 << 30
# What open(O_NOFOLLOW | O_DIRECTORY) says of a link or of something that is not a folder.
NOT_A_FOLDER = (errno.ELOOP, errno.ENOTDIR)


class Tampered(Exception):
    """An entry is not what root expects (a link, a file for a folder, a stranger's folder)."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _check_name(name):
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a single path component: {name!r}")


class Folder:
    """An open folder, and the path it was reached by (for messages only: never re-opened)."""

    def __init__(self, fd, path):
        self.fd, self.path = fd, path

    @classmethod
    def open(cls, path):
        """A folder root chose (a volume's mount point, /home): its last component must not be
        a link either."""
        return cls(_open_folder(path, None, path), path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def join(self, name):
        return os.path.join(self.path, name)

    def stat(self):
        return os.fstat(self.fd)

    def entry(self, name):
        """The entry's own stat (a link is not followed), or None when there is none."""
        _check_name(name)
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def child(self, name):
        """The sub-folder `name`; Tampered if it is a link or not a folder."""
        _check_name(name)
        return Folder(_open_folder(name, self.fd, self.join(name)), self.join(name))

    def require_owner(self, owners):
        uid = self.stat().st_uid
        if uid not in owners:
            raise Tampered(self.path, f"owned by uid {uid}, not by {' or '.join(map(str, sorted(owners)))}")
        return self

    def set_owner_mode(self, uid, gid, mode):
        """Owner, group and mode (setgid included) through the descriptor, only where they differ."""
        st = self.stat()
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.fchown(self.fd, uid, gid)
            st = self.stat()  # chown may clear setgid
        if stat.S_IMODE(st.st_mode) != mode:
            os.fchmod(self.fd, mode)
        return self

    def ensure_child(self, name, uid, gid, mode, owners=None, repair=True):
        """The sub-folder `name`, made with this owner and mode if missing.

        An existing one must be a real folder owned by one of `owners` (any owner when None);
        with `repair`, its owner and mode are then set (a user's own folder is left as it is)."""
        _check_name(name)
        created = False
        try:
            os.mkdir(name, 0o700, dir_fd=self.fd)
            created = True
        except FileExistsError:
            pass
        folder = self.child(name)
        try:
            if not created and owners is not None:
                folder.require_owner(owners)
            if created or repair:
                folder.set_owner_mode(uid, gid, mode)
        except BaseException:
            folder.close()
            raise
        return folder

    def ensure_exchange_child(self, name, uid, gid, mode, owners=None):
        """Like ensure_child, but an entry that is not a folder of `owners` (someone made it
        before root did) is moved aside, kept for a look, and a fresh folder made. Returns
        (folder, the name it was moved to or None)."""
        try:
            return self.ensure_child(name, uid, gid, mode, owners), None
        except Tampered:
            # A name no one can guess: whoever may write here must not be able to block the
            # move by making that name first.
            moved = f".tampered-{name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(8)}"
            os.rename(name, moved, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            return self.ensure_child(name, uid, gid, mode, owners), moved

    def write_new_file(self, name, content, uid, gid, mode=0o644):
        """A file that must not exist yet (O_EXCL: a link in its place is refused), with `mode`
        less root's umask (thousands are made in one sync: no file object, no chmod)."""
        _check_name(name)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                     dir_fd=self.fd)
        try:
            os.fchown(fd, uid, gid)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def replace_file(self, name, mode=0o600):
        """A descriptor of the regular file `name`, made (with `mode`) or emptied; Tampered for
        a link, a fifo, a device or a file with other names (a hard link to someone else's)."""
        fd = self._open_regular_file(name, os.O_WRONLY | os.O_CREAT | FILE_OPEN_FLAGS, mode, one_name=True)
        os.ftruncate(fd, 0)
        return fd

    def ensure_symlink(self, name, target):
        """A link `name` -> `target`, unless an entry of that name exists (what a user put there
        is theirs). True when made. It stays root's: chowning it by name afterwards would chown
        whatever the folder's owner had put in its place meanwhile (a hard link, say)."""
        if self.entry(name) is not None:
            return False
        try:
            os.symlink(target, name, dir_fd=self.fd)
        except FileExistsError:
            return False
        return True

    def open_file(self, name):
        """A descriptor of the regular file `name`; Tampered for a link, a fifo, a device."""
        return self._open_regular_file(name, os.O_RDONLY | FILE_OPEN_FLAGS)

    def _open_regular_file(self, name, flags, mode=0o600, one_name=False):
        _check_name(name)
        try:
            fd = os.open(name, flags, mode, dir_fd=self.fd)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise Tampered(self.join(name), "is a symbolic link") from None
            raise
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or (one_name and status.st_nlink != 1):
            os.close(fd)
            raise Tampered(self.join(name), "is not a regular file" + (" of one name" if one_name else ""))
        return fd


def _open_folder(name, dir_fd, path):
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno in NOT_A_FOLDER:
            raise Tampered(path, "is a symbolic link or not a folder") from None
        raise


def copy_tree(source, destination):
    """Copy the folder `source` (a Folder) to the new path `destination`, never following a
    link: links are left out, and their paths returned. For copying what another user can
    change while it is read (a student's submission, by the teacher who collects it)."""
    os.mkdir(destination, 0o700)
    left_out = []
    with os.scandir(source.fd) as entries:
        for entry in entries:
            target = os.path.join(destination, entry.name)
            try:
                if entry.is_dir(follow_symlinks=False):
                    with source.child(entry.name) as folder:
                        left_out += copy_tree(folder, target)
                elif entry.is_file(follow_symlinks=False):
                    with open(source.open_file(entry.name), "rb") as reader, open(target, "xb") as writer:
                        shutil.copyfileobj(reader, writer)
                else:
                    left_out.append(source.join(entry.name))
            except Tampered as error:  # swapped for a link since it was listed
                left_out.append(error.path)
    return left_out


def open_path(path, root="/"):
    """The folder at absolute `path`, every component opened without following a link."""
    parts = [part for part in os.path.relpath(path, root).split(os.sep) if part not in ("", ".")]
    folder = Folder.open(root)
    for part in parts:
        with folder:
            folder = folder.child(part)
    return folder


@contextlib.contextmanager
def private_copy(folder_path, name, most=MAX_COPY):
    """A copy of the regular file `folder_path/name`, read through one descriptor, in a folder
    only root can read; for root to open files users wrote (a course's gradebook) with tools
    that take a path and follow links, or create files beside it (SQLite). A file larger than
    `most` bytes (a sparse one claims terabytes) is refused."""
    with open_path(folder_path) as folder:
        source = folder.open_file(name)
    size = os.fstat(source).st_size
    if size > most:
        os.close(source)
        raise Tampered(os.path.join(folder_path, name), f"is {size} bytes, more than the {most} a copy may take")
    with tempfile.TemporaryDirectory(prefix="hubsetup-") as spool:
        copy = os.path.join(spool, name)
        with open(source, "rb") as reader, open(copy, "wb") as writer:
            shutil.copyfileobj(reader, writer)
        yield copy
