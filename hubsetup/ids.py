"""One pool of numeric ids for user UIDs, their personal GIDs and course GIDs.

Drawing all three from one pool means a user's personal group can always take the same
number as their UID, and no course group ever collides with either."""

import os

from . import registry


def allocate_ids(used, first, count):
    """`count` free ids at or above `first`, lowest first."""
    ids, candidate = [], first
    while len(ids) < count:
        if candidate not in used:
            ids.append(candidate)
        candidate += 1
    return ids


def used_ids(etc_files, db, home_root):
    used = etc_files.user_ids() | etc_files.group_ids()
    used |= {user["uid"] for user in registry.users(db).values()}
    for course in registry.courses(db).values():
        used |= {course["student_gid"], course["instructor_gid"]}
    with os.scandir(home_root) as entries:
        used |= {entry.stat().st_uid for entry in entries if entry.is_dir(follow_symlinks=False)}
    return used
