"""A course's materials (lesson notebooks, data files, images): published by its teachers,
delivered into each student's home with nbgitpuller's promise. Runs as the user concerned, in
their own server (or in a child process started as them): never as root.

- **Publishing** copies `<course dir>/materials/` into a new snapshot under the course's
  published folder (`<exchange>/<course>/materials/published/`), linking the files unchanged
  since the last snapshot instead of copying them, then points `current` at it in one rename.
  Students read whole snapshots only: a delivery never sees half a publication.
- **Delivering** brings the current snapshot into `~/<course>/`: a new or updated teacher file
  arrives, a file the student deleted comes back, a file the student changed (or made
  themselves under the same name) is never overwritten. What was delivered is remembered per
  file (sizes, times), so a delivery with nothing new only compares stats.

Co-teachers share the materials folder and the published folder, and a teacher may also teach
other courses: so every file of the materials, of an earlier snapshot and of the current one is
opened relative to its folder's descriptor, without following links, and must be a regular
file; a snapshot is built in a folder only its publisher can enter, and opened to the course at
the end. A link in the materials is left out, and nothing anyone plants can make a publication
or a delivery read or write elsewhere.
"""

import json
import os
import secrets
import stat
import time

MATERIALS = "materials"  # in the course directory: what teachers edit
PUBLISHED = "published"  # in <exchange>/<course>/materials/: the snapshots students read
CURRENT = "current"
KEEP_SNAPSHOTS = 2  # the current one, and the one a slow delivery may still be reading
STATE_DIR = os.path.join(".local", "share", "teaching-hub", "materials")
RACY_NS = 2 * 10**9  # a file written this recently may change again within the same timestamp
FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1 << 20


class MaterialsError(Exception):
    """What a teacher or a student is told: says which course and why."""


def published_root(exchange_root, course):
    return os.path.join(exchange_root, course, MATERIALS, PUBLISHED)


def path_problem(path):
    """Why `path` is not a relative path inside a course's files (a lesson, a file to open), or
    None."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(ord(c) < 32 for c in path):
        return "must be a relative path, without backslashes or control characters"
    if any(part in ("", ".", "..") for part in parts):
        return "must not have empty, '.' or '..' parts"
    return None


def open_folder(path):
    """A descriptor of the folder at `path`, its last component not a link."""
    return os.open(path, FOLDER)


def _walk(folder_fd):
    """{relative path: stat} of the regular files below the folder `folder_fd`, hidden entries
    (.ipynb_checkpoints, .git) and links left out; by descriptors (os.fwalk), never by path."""
    found = {}
    for top, subfolders, files, fd in os.fwalk(".", dir_fd=folder_fd, follow_symlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[os.path.normpath(os.path.join(top, name))] = st
    return found


def course_files(root):
    """{relative path: stat} of the regular files below the folder at `root`."""
    fd = open_folder(root)
    try:
        return _walk(fd)
    finally:
        os.close(fd)


def _open_parent(root_fd, relative, create=False, mode=0o700):
    """A descriptor of the folder holding `relative` below `root_fd`, each folder opened without
    following links (made, with `create`)."""
    fd = os.dup(root_fd)
    try:
        for part in relative.split("/")[:-1]:
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass
            child = os.open(part, FOLDER, dir_fd=fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_regular(root_fd, relative):
    """(descriptor, stat) of the regular file `relative` below `root_fd`; OSError otherwise (a
    link, a pipe or a device in its place)."""
    parent = _open_parent(root_fd, relative)
    try:
        fd = os.open(os.path.basename(relative), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=parent)
    finally:
        os.close(parent)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(f"{relative} is not a regular file")
    return fd, st


def _copy_fd(source_fd, target_fd):
    while True:
        chunk = os.read(source_fd, CHUNK)
        if not chunk:
            return
        view = memoryview(chunk)
        while view:
            view = view[os.write(target_fd, view):]


def _published_fd(published):
    """The published folder, reached from the exchange root one folder at a time without
    following links, each of `<course>/materials/published` checked to be the hub's (root's):
    a teacher may rename entries of the course's exchange folder, never make root's."""
    course_folder = os.path.dirname(os.path.dirname(published))
    fd = open_folder(os.path.dirname(course_folder))
    try:
        for part in (os.path.basename(course_folder), MATERIALS, PUBLISHED):
            child = os.open(part, FOLDER, dir_fd=fd)
            os.close(fd)
            fd = child
            if os.fstat(fd).st_uid != 0:
                raise MaterialsError(f"{published} is not the hub's folder: ask the admin to run `hubsetup accounts sync`")
        return fd
    except BaseException:
        os.close(fd)
        raise


def _current_name(published_fd, published):
    """The current snapshot's name, or None before the first publication."""
    try:
        name = os.readlink(CURRENT, dir_fd=published_fd)
    except FileNotFoundError:
        return None
    if "/" in name or not name.startswith("snapshot-"):
        raise MaterialsError(f"{published}/{CURRENT} does not name a snapshot")
    return name


def _open_current(published):
    """A descriptor of the current snapshot's folder, or None before the first publication."""
    published_fd = _published_fd(published)
    try:
        name = _current_name(published_fd, published)
        return os.open(name, FOLDER, dir_fd=published_fd) if name else None
    finally:
        os.close(published_fd)


def current_files(published):
    """{relative path: stat} of the current snapshot's files ({} before the first publication)."""
    fd = _open_current(published)
    if fd is None:
        return {}
    try:
        return _walk(fd)
    finally:
        os.close(fd)


def _unchanged(published, source):
    """The published copy is still the source's: same size and time, and the source not so
    recent that a write in the same clock tick could hide (git's "racily clean" files)."""
    return (published.st_size == source.st_size and published.st_mtime_ns == source.st_mtime_ns
            and time.time_ns() - source.st_mtime_ns > RACY_NS)


def publish(source, published):
    """A new snapshot of `source` made current; returns (files, copied, linked)."""
    try:
        source_fd = open_folder(source)
    except FileNotFoundError:
        raise MaterialsError(f"no materials folder {source}: put the lesson's files there first") from None
    published_fd = _published_fd(published)
    try:
        files = _walk(source_fd)
        if not files:
            raise MaterialsError(f"{source} holds no files to publish")
        previous = _current_name(published_fd, published)
        previous_fd = os.open(previous, FOLDER, dir_fd=published_fd) if previous else None
        try:
            before = _walk(previous_fd) if previous_fd is not None else {}
            name = f"snapshot-{time.time_ns():020d}-{secrets.token_hex(3)}"  # names sort by time
            staging = f".staging-{secrets.token_hex(8)}"
            os.mkdir(staging, 0o700, dir_fd=published_fd)  # only the publisher may enter, until done
            staging_fd = os.open(staging, FOLDER, dir_fd=published_fd)
            try:
                copied, linked = _fill(staging_fd, source_fd, previous_fd, files, before)
                _open_to_the_course(staging_fd)
            finally:
                os.close(staging_fd)
            os.rename(staging, name, src_dir_fd=published_fd, dst_dir_fd=published_fd)
        finally:
            if previous_fd is not None:
                os.close(previous_fd)
        link = f".{CURRENT}-{secrets.token_hex(4)}"
        os.symlink(name, link, dir_fd=published_fd)
        os.rename(link, CURRENT, src_dir_fd=published_fd, dst_dir_fd=published_fd)
        _remove_old_snapshots(published_fd, keep={name, previous})
        return len(files), copied, linked
    finally:
        os.close(source_fd)
        os.close(published_fd)


def _fill(staging_fd, source_fd, previous_fd, files, before):
    copied = linked = 0
    for relative, st in sorted(files.items()):
        folder = _open_parent(staging_fd, relative, create=True)
        name = os.path.basename(relative)
        try:
            if relative in before and _unchanged(before[relative], st):
                previous_folder = _open_parent(previous_fd, relative)
                try:
                    os.link(name, name, src_dir_fd=previous_folder, dst_dir_fd=folder, follow_symlinks=False)
                    linked += 1
                    continue
                except OSError:  # another teacher's file the kernel will not let us link: copy it
                    pass
                finally:
                    os.close(previous_folder)
            try:
                source, now = _open_regular(source_fd, relative)
            except OSError:
                continue  # replaced meanwhile by something that is not a file: left out
            try:
                target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                                 dir_fd=folder)
                try:
                    _copy_fd(source, target)
                    os.fchmod(target, 0o664)  # co-teachers may link it next time; students read it
                    os.utime(target, ns=(now.st_atime_ns, now.st_mtime_ns))
                finally:
                    os.close(target)
            finally:
                os.close(source)
            copied += 1
        finally:
            os.close(folder)
    return copied, linked


def _open_to_the_course(staging_fd):
    """Folders 2775 (the course's students read them through the materials folder), whatever
    the umask (servers run with 007, for co-teachers' sake)."""
    os.fchmod(staging_fd, 0o2775)
    for _, _, _, fd in os.fwalk(".", dir_fd=staging_fd, follow_symlinks=False):
        os.fchmod(fd, 0o2775)


def _remove_old_snapshots(published_fd, keep):
    snapshots = sorted(n for n in os.listdir(published_fd) if n.startswith("snapshot-"))
    for name in snapshots[:-KEEP_SNAPSHOTS]:
        if name not in keep:
            _remove_tree(published_fd, name)


def _remove_tree(parent_fd, name):
    """Remove what we can of the folder `name` (another teacher's files stay), by descriptors."""
    try:
        fd = os.open(name, FOLDER, dir_fd=parent_fd)
    except OSError:
        return
    try:
        for top, folders, files, top_fd in os.fwalk(".", dir_fd=fd, topdown=False, follow_symlinks=False):
            for entry in files:
                _ignore(os.unlink, entry, dir_fd=top_fd)
            for entry in folders:
                _ignore(os.rmdir, entry, dir_fd=top_fd)
    finally:
        os.close(fd)
    _ignore(os.rmdir, name, dir_fd=parent_fd)


def _ignore(operation, *args, **kwargs):
    try:
        operation(*args, **kwargs)
    except OSError:
        pass


def _state_path(home, course):
    return os.path.join(home, STATE_DIR, course + ".json")


def _read_state(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def _stat_pair(st):
    return [st.st_size, st.st_mtime_ns]


def deliver(published, home, course):
    """Bring the current snapshot into `home`/`course`; returns {"new": [...], "updated":
    [...], "kept": [...], "failed": [...]} (kept: changed by the student, left as they are;
    failed: "path: why", e.g. a folder of the student's in the way). Nothing published yet:
    all empty."""
    report = {"new": [], "updated": [], "kept": [], "failed": []}
    snapshot_fd = _open_current(published)
    if snapshot_fd is None:
        return report
    try:
        _deliver_snapshot(snapshot_fd, home, course, report)
    finally:
        os.close(snapshot_fd)
    return report


def _deliver_snapshot(snapshot_fd, home, course, report):
    destination = os.path.join(home, course)
    state_path = _state_path(home, course)
    state = _read_state(state_path)
    for relative, st in sorted(_walk(snapshot_fd).items()):
        target = os.path.join(destination, relative)
        delivered = state.get(relative)
        try:
            mine = os.lstat(target)
        except FileNotFoundError:
            mine = None
        except OSError as error:  # e.g. a file of the student's where a folder goes
            report["failed"].append(f"{relative}: {error.strerror}")
            continue
        if mine is None:
            kind = "new"
        elif delivered is None or _stat_pair(mine) != delivered["home"]:
            report["kept"].append(relative)  # the student's own version: never overwritten
            continue
        elif _stat_pair(st) == delivered["published"]:
            continue
        else:
            kind = "updated"
        try:
            copied = _copy_into(snapshot_fd, relative, target)
        except OSError as error:
            report["failed"].append(f"{relative}: {error.strerror or error}")
            continue
        state[relative] = {"published": _stat_pair(copied), "home": _stat_pair(os.lstat(target))}
        report[kind].append(relative)
    if report["new"] or report["updated"]:
        os.makedirs(os.path.dirname(state_path), exist_ok=True)
        with open(state_path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(state_path + ".tmp", state_path)


def _copy_into(snapshot_fd, relative, target):
    """Copy the snapshot's regular file `relative` to `target` whole or not at all (a student
    opening it meanwhile sees the old file or the new one); returns the source's stat."""
    source, st = _open_regular(snapshot_fd, relative)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = f"{target}.{secrets.token_hex(4)}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            _copy_fd(source, fd)
        finally:
            os.close(fd)
        try:
            os.replace(partial, target)
        except OSError:
            os.unlink(partial)
            raise
    finally:
        os.close(source)
    return st


def lesson_state(source, published, lesson):
    """'published', 'unpublished' (in the materials only) or 'missing': for `lti params`."""
    try:
        if lesson in current_files(published):
            return "published"
        return "unpublished" if lesson in course_files(source) else "missing"
    except (OSError, MaterialsError):
        return "missing"


if __name__ == "__main__":
    # `hubsetup materials publish` and `hubsetup lti params`, run as one of the course's
    # teachers (hubsetup.as_instructor).
    import sys

    request = json.load(sys.stdin)
    if request.get("lesson"):
        print(lesson_state(request["source"], request["published"], request["lesson"]))
        sys.exit(0)
    try:
        files, copied, linked = publish(request["source"], request["published"])
    except MaterialsError as error:
        sys.exit(str(error))
    print(f"published {files} file(s): {copied} copied, {linked} unchanged since the last publication")
