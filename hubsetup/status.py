"""`hubsetup status`: who the users are, whose servers run, the courses, and disk use."""

import os
import sqlite3

from . import containers, registry


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
    """Bytes used below `path` (files only, links not followed)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def human(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def report(settings, largest=5):
    with registry.connect(settings.registry_path, write=False) as db:
        users = registry.users(db)
        sizes = registry.course_sizes(db)
    by_kind = {}
    for user in users.values():
        kind = f"{user['origin']} {'active' if user['active'] else 'locked'}"
        by_kind[kind] = by_kind.get(kind, 0) + 1
    running = running_servers(settings.state_dir)
    homes = {login: disk_use(os.path.join(settings.home_root, login)) for login in users}
    lines = [
        f"users: {len(users)} (" + ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items())) + ")",
        f"running servers: {len(running)}" + (f" ({', '.join(running)})" if running else ""),
        f"courses: {len(sizes)}",
    ]
    lines += [f"  {course}: {i} instructor(s), {s} student(s)" for course, (i, s) in sorted(sizes.items())]
    lines.append(f"homes: {human(sum(homes.values()))} in all; largest:")
    for login, size in sorted(homes.items(), key=lambda item: -item[1])[:largest]:
        lines.append(f"  {login}: {human(size)}")
    if settings.spawner_mode != "local":
        lines += container_memory(settings, largest)
    return "\n".join(lines)


def container_memory(settings, largest):
    """Docker and swarm modes: memory of users' containers against their limit."""
    client = containers.docker_client()
    in_use = containers.memory_in_use(client, containers.discover(client, settings).project)
    lines = [f"user containers on this node: {len(in_use)} (each limited to {settings.user_mem_limit} of memory, "
             f"{settings.user_cpu_limit:g} CPU); using the most memory:"]
    for login, (used, limit) in sorted(in_use.items(), key=lambda item: -item[1][0])[:largest]:
        lines.append(f"  {login}: {human(used)} of {human(limit)} ({100 * used / limit:.0f}%)")
    return lines
