"""`hubsetup status`: who the users are, whose servers run, the courses, and disk use."""

import os
import sqlite3

from . import modes, registry
from .person_names import shown_with_login

FULL_WARNING = 0.90  # share of a filesystem in use past which `status` warns


def running_servers(state_dir):
    """Names of users whose server the hub's database records as running."""
    path = os.path.join(state_dir, "jupyterhub.sqlite")
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT users.name FROM spawners JOIN users ON spawners.user_id = users.id"
            " WHERE spawners.server_id IS NOT NULL ORDER BY users.name"
        )
        return [name for (name,) in rows]
    finally:
        db.close()


def disk_use(path):
    """Bytes used below `path`, folders included. Root walks folders their users can change
    while it walks: by descriptor, never following a link (os.fwalk checks each folder it
    enters is the one it listed)."""
    total = 0
    for _, folders, files, folder_fd in os.fwalk(path, follow_symlinks=False):
        for name in folders + files:
            try:
                total += os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def filesystems(settings):
    """(lines, warnings) for the filesystems of users' files and of the hub's state."""
    places = (("homes", settings.home_root), ("exchange", settings.exchange_root),
              ("courses", settings.courses_root), ("hub state", settings.state_dir))
    lines, warnings, seen = ["disk:"], [], {}
    for label, path in places:
        device = os.stat(path).st_dev
        if device in seen:
            lines.append(f"  {label} ({path}): on the same filesystem as {seen[device]}")
            continue
        seen[device] = label
        fs = os.statvfs(path)
        total, free = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
        used = total - fs.f_bfree * fs.f_frsize
        share = used / (used + free) if used + free else 1.0  # as df counts it
        lines.append(f"  {label} ({path}): {human(free)} free of {human(total)} ({share:.0%} used)")
        if share >= FULL_WARNING:
            warnings.append(f"WARNING: {label} ({path}) is {share:.0%} full: users cannot save their work "
                            "once it is full; see the largest homes above")
    return lines, warnings


def human(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def report(settings, largest=5):
    with registry.connect(settings.registry_path, write=False) as db:
        users = registry.users(db)
        sizes = registry.course_sizes(db)
        names = {login: name.shown for login, name in registry.names_of(db).items()}
    by_kind = {}
    for user in users.values():
        kind = f"{user['origin']} {'active' if user['active'] else 'locked'}"
        by_kind[kind] = by_kind.get(kind, 0) + 1
    running = running_servers(settings.state_dir)
    homes = {login: disk_use(os.path.join(settings.home_root, login)) for login in users}
    lines = [
        f"users: {len(users)} (" + ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items())) + ")",
        f"running servers: {len(running)}"
        + (f" ({', '.join(shown_with_login(login, names.get(login)) for login in running)})" if running else ""),
        f"courses: {len(sizes)}",
    ]
    lines += [f"  {course}: {i} instructor(s), {s} student(s)" for course, (i, s) in sorted(sizes.items())]
    disk_lines, warnings = filesystems(settings)
    lines += disk_lines
    lines.append(f"homes: {human(sum(homes.values()))} in all; largest:")
    for login, size in sorted(homes.items(), key=lambda item: -item[1])[:largest]:
        lines.append(f"  {shown_with_login(login, names.get(login))}: {human(size)}")
    limit = settings.disk_warning_bytes
    warnings += [
        f"WARNING: {login}'s home holds {human(size)}, more than USER_DISK_WARNING={settings.user_disk_warning}"
        for login, size in sorted(homes.items()) if limit and size > limit
    ]
    lines += modes.of(settings).call("status_lines", settings, largest) or []
    return "\n".join(lines + warnings)
