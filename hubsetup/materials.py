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

Only regular files are published and delivered, by relative paths without `..`: a link in the
materials is left out, so that no teacher can make a student's delivery write elsewhere.
"""

import json
import os
import secrets
import shutil
import stat
import time

MATERIALS = "materials"  # in the course directory: what teachers edit
PUBLISHED = "published"  # in <exchange>/<course>/materials/: the snapshots students read
CURRENT = "current"
KEEP_SNAPSHOTS = 2  # the current one, and the one a slow delivery may still be reading
STATE_DIR = os.path.join(".local", "share", "teaching-hub", "materials")


class MaterialsError(Exception):
    """What a teacher or a student is told: says which course and why."""


def published_root(exchange_root, course):
    return os.path.join(exchange_root, course, MATERIALS, PUBLISHED)


def course_files(root):
    """{relative path: os.stat_result} of the regular files below `root`; hidden entries
    (.ipynb_checkpoints, .git) and links are left out."""
    found = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                               and not os.path.islink(os.path.join(folder, d)))
        for name in files:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                found[os.path.relpath(path, root)] = st
    return found


RACY_NS = 2 * 10**9  # a file written this recently may change again within the same timestamp


def _unchanged(published, source):
    """The published copy is still the source's: same size and time, and the source not so
    recent that a write in the same clock tick could hide (git's "racily clean" files)."""
    return (published.st_size == source.st_size and published.st_mtime_ns == source.st_mtime_ns
            and time.time_ns() - source.st_mtime_ns > RACY_NS)


def current_snapshot(published):
    """The folder of the current snapshot, or None before the first publication."""
    try:
        name = os.readlink(os.path.join(published, CURRENT))
    except (FileNotFoundError, OSError):
        return None
    snapshot = os.path.join(published, name)
    if "/" in name or not name.startswith("snapshot-") or not stat.S_ISDIR(os.lstat(snapshot).st_mode):
        raise MaterialsError(f"{published}/{CURRENT} does not name a snapshot")
    return snapshot


def publish(source, published):
    """A new snapshot of `source` made current; returns (files, copied, linked)."""
    if not os.path.isdir(source):
        raise MaterialsError(f"no materials folder {source}: put the lesson's files there first")
    files = course_files(source)
    if not files:
        raise MaterialsError(f"{source} holds no files to publish")
    previous = current_snapshot(published)
    before = course_files(previous) if previous else {}
    name = f"snapshot-{time.time_ns():020d}-{secrets.token_hex(3)}"  # names sort by time
    snapshot = os.path.join(published, name)
    _make_folders(published, name)
    copied = linked = 0
    for relative, st in sorted(files.items()):
        target = os.path.join(snapshot, relative)
        _make_folders(snapshot, os.path.dirname(relative))
        if relative in before and _unchanged(before[relative], st):
            try:
                os.link(os.path.join(previous, relative), target)
                linked += 1
                continue
            except OSError:  # another teacher's file the kernel will not let us link: copy it
                pass
        shutil.copyfile(os.path.join(source, relative), target)
        os.chmod(target, 0o664)  # co-teachers may link it next time; students read it
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        copied += 1
    link = os.path.join(published, f".{CURRENT}-{secrets.token_hex(4)}")
    os.symlink(name, link)
    os.replace(link, os.path.join(published, CURRENT))
    _remove_old_snapshots(published, keep={name, os.path.basename(previous or "")})
    return len(files), copied, linked


def _make_folders(root, relative):
    """Folders below `root` that the course's students can read, whatever the umask (servers
    run with 007, for co-teachers' sake)."""
    path = root
    for part in [p for p in relative.split(os.sep) if p]:
        path = os.path.join(path, part)
        if not os.path.isdir(path):
            os.mkdir(path)
            os.chmod(path, 0o2775)


def _remove_old_snapshots(published, keep):
    snapshots = sorted(n for n in os.listdir(published) if n.startswith("snapshot-"))
    for name in snapshots[:-KEEP_SNAPSHOTS]:
        if name not in keep:
            shutil.rmtree(os.path.join(published, name), ignore_errors=True)


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
    snapshot = current_snapshot(published)
    if snapshot is None:
        return report
    destination = os.path.join(home, course)
    state_path = _state_path(home, course)
    state = _read_state(state_path)
    for relative, st in sorted(course_files(snapshot).items()):
        target = os.path.join(destination, relative)
        delivered = state.get(relative)
        try:
            mine = os.lstat(target)
        except FileNotFoundError:
            mine = None
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
            _copy_into(os.path.join(snapshot, relative), target)
        except OSError as error:
            report["failed"].append(f"{relative}: {error.strerror}")
            continue
        state[relative] = {"published": _stat_pair(st), "home": _stat_pair(os.lstat(target))}
        report[kind].append(relative)
    if report["new"] or report["updated"]:
        os.makedirs(os.path.dirname(state_path), exist_ok=True)
        with open(state_path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(state_path + ".tmp", state_path)
    return report


def _copy_into(source, target):
    """Copy `source` to `target` whole or not at all (a student opening it meanwhile sees the
    old file or the new one)."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = f"{target}.{secrets.token_hex(4)}.part"
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


if __name__ == "__main__":
    # `hubsetup materials publish`, run as one of the course's teachers (hubsetup.as_instructor).
    import sys

    request = json.load(sys.stdin)
    try:
        files, copied, linked = publish(request["source"], request["published"])
    except MaterialsError as error:
        sys.exit(str(error))
    print(f"published {files} file(s): {copied} copied, {linked} unchanged since the last publication")
