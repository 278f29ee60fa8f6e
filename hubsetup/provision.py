"""The registry projected onto the system: /etc's users and course groups, homes, course
directories and instructors' links. A sync, a launch and `users remove` all end here, so the
system always looks the same whatever changed the registry."""

import logging
import os
import shutil

from . import courses, registry, safe_paths, system

log = logging.getLogger(__name__)


def remove_users(settings, logins, keep_home=False, etc="/etc", running=()):
    """Remove LTI users: registry rows, /etc entries, course memberships and (unless keep_home)
    their homes. accounts.csv users are refused: removing their row locks them instead."""
    with registry.connect(settings.registry_path) as db:
        etc_files = system.EtcFiles(etc)
        known = registry.users(db)
        problems = [f"{login!r} is not a hub user" for login in logins if login not in known]
        problems += [
            f"{login!r} comes from accounts.csv: remove its row there (that locks it, keeping its files)"
            for login in logins if login in known and known[login]["origin"] == "csv"
        ]
        problems += [f"{login!r} has a running server: stop it first" for login in logins if login in running]
        if problems:
            raise ValueError("; ".join(problems))
        for login in logins:
            registry.remove_user(db, login)
            etc_files.remove_user(login)
        apply(db, settings, etc_files, logins=[])
    if not keep_home:
        for login in logins:
            shutil.rmtree(home_of(settings, login), ignore_errors=True)


def apply(db, settings, etc_files, logins=None):
    """Project the registry onto /etc, the homes and the course directories.

    `logins` limits the users (and homes) looked at, for a single LTI user; course groups are
    always written whole. A home or folder that a user tampered with is skipped with a warning:
    one user's mischief never stops everyone else's sync. Returns (files written, homes
    created, warnings)."""
    users = registry.users(db)
    chosen = [users[login] for login in logins] if logins is not None else list(users.values())
    for user in chosen:
        password_hash = user["password_hash"] if user["active"] else system.locked(user["password_hash"])
        etc_files.set_user(system.User(user["login"], user["uid"], password_hash, home_of(settings, user["login"])))
    for group in courses.groups(db):
        etc_files.set_group(group)
    written = etc_files.write()
    skel_files = system.skeleton()
    created, warnings = [], []
    os.makedirs(settings.home_root, exist_ok=True)  # the volume's mount point, or a test's folder
    with safe_paths.open_path(settings.home_root) as homes:
        for user in chosen:
            home = system.User(user["login"], user["uid"], "", home_of(settings, user["login"]))
            try:
                if system.ensure_home(homes, home, skel_files):
                    created.append(user["login"])
            except (safe_paths.Tampered, OSError) as error:
                warnings.append(f"user {user['login']}: home skipped, {error}")
    warnings += courses.ensure_course_dirs(db, settings)
    warnings += courses.ensure_instructor_links(db, settings, logins)
    for warning in warnings:
        log.warning("%s", warning)
    return written, created, warnings


def home_of(settings, login):
    return os.path.join(settings.home_root, login)
