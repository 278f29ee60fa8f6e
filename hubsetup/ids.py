"""One pool of numeric ids for user UIDs, their personal GIDs and course GIDs.

Drawing all three from one pool means a user's personal group can always take the same
number as their UID, and no course group ever collides with either. The pool is read once per
registry transaction, then handed out in order."""

import os

from . import registry


class IdPool:
    def __init__(self, account_ids, home_owners, first):
        self.account_ids = set(account_ids)  # held by a user or group of /etc or the registry
        self.used = self.account_ids | set(home_owners)
        self.first = self.next = first

    @classmethod
    def read(cls, etc_files, db, settings):
        accounts = etc_files.user_ids() | etc_files.group_ids()
        accounts |= {user["uid"] for user in registry.users(db).values()}
        accounts |= registry.retired_ids(db)
        for course in registry.courses(db).values():
            accounts |= {course["student_gid"], course["instructor_gid"]}
        with os.scandir(settings.home_root) as entries:
            owners = {entry.stat(follow_symlinks=False).st_uid for entry in entries if entry.is_dir(follow_symlinks=False)}
        return cls(accounts, owners, settings.first_uid)

    def take(self, count=1):
        """`count` free ids, lowest first."""
        ids = []
        while len(ids) < count:
            if self.next not in self.used:
                ids.append(self.next)
            self.next += 1
        self.used.update(ids)
        return ids

    def claim_home_owner(self, uid):
        """True (and the id is taken) if a home's owner may be given back to its user: in our
        range and no account of /etc or the registry holds it."""
        if uid is None or uid < self.first or uid in self.account_ids:
            return False
        self.account_ids.add(uid)
        self.used.add(uid)
        return True
