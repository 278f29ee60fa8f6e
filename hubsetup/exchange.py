"""nbgrader's exchange, for an exchange whose root only root may write, and a collect that
takes only what each student really submitted.

nbgrader wants the exchange root world-writable: every exchange operation checks that the user
may write it, and release chmods it to 0777. A world-writable root lets any student create a
course's folder before the course exists, and own it. Here root makes every course's exchange
folders (hubsetup.courses) and the root stays 0755: each operation needs only to enter it.

Any user may write a course's inbound (nbgrader's design), naming a submission after any
student, and nbgrader's collect only warns when the folder's owner is someone else; it copies
as the teacher, following links, so a link in a submission reads the teacher's files (the
solutions) into what gets autograded and returned as feedback. Our collect skips submissions
whose folder is not the named student's, and copies without following links.

The factory's classes are nbgrader's own with these changes (nbgrader_setup names them).
"""

import datetime
import os
import pwd
import stat
import tempfile

from nbgrader.exchange.default import (
    ExchangeCollect, ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeList, ExchangeReleaseAssignment,
    ExchangeReleaseFeedback, ExchangeSubmit,
)
from nbgrader.utils import check_directory

from . import safe_paths


class RootOwnedRoot:
    def ensure_root(self):
        if not check_directory(self.root, read=True, execute=True):
            self.fail(f"The exchange {self.root} is missing or closed: ask the hub's admin.")


def not_submitted_by(path, student):
    """Why the inbound folder `path` is not `student`'s own submission, or None."""
    try:
        st = os.lstat(path)
        owner = pwd.getpwuid(st.st_uid).pw_name
    except (OSError, KeyError):
        return "its owner is unknown"
    if not stat.S_ISDIR(st.st_mode):  # lstat: a link is not a folder
        return "it is not a folder"
    return None if owner == student else f"it belongs to {owner}"


class Collect(RootOwnedRoot, ExchangeCollect):
    def _path_to_record(self, path):
        record = super()._path_to_record(path)
        forged = not_submitted_by(path, record["username"])
        if forged:
            # Oldest of all, so that a student's real submission is the one chosen.
            oldest = datetime.datetime.min.replace(tzinfo=record["timestamp"].tzinfo)
            record.update(timestamp=oldest, forged=forged)
        return record

    def copy_files(self):
        for record in [r for r in self.src_records if r.get("forged")]:
            self.log.warning("Not collected: %s names %s as its student, but %s", record["filename"],
                             record["username"], record["forged"])
        self.src_records = [r for r in self.src_records if not r.get("forged")]
        super().copy_files()

    def do_copy(self, src, dest, log=None):
        """nbgrader's copy (sizes, ignored files, modes) of a copy made without following links."""
        # Spooled in the course directory: on the users' disk, where the copy ends, never in
        # /tmp (held in memory, and small).
        spooled = tempfile.TemporaryDirectory(prefix=".collect-", dir=self.coursedir.root)
        with spooled as spool, safe_paths.open_path(os.path.abspath(src)) as folder:
            snapshot = os.path.join(spool, "submission")
            for link in safe_paths.copy_tree(folder, snapshot):
                self.log.warning("Not collected from %s: %s is a link or not a file", src, link)
            super().do_copy(snapshot, dest, log)


class FetchAssignment(RootOwnedRoot, ExchangeFetchAssignment):
    pass


class FetchFeedback(RootOwnedRoot, ExchangeFetchFeedback):
    pass


class List(RootOwnedRoot, ExchangeList):
    pass


class ReleaseAssignment(RootOwnedRoot, ExchangeReleaseAssignment):
    pass


class ReleaseFeedback(RootOwnedRoot, ExchangeReleaseFeedback):
    pass


class Submit(RootOwnedRoot, ExchangeSubmit):
    pass


# ExchangeFactory's setting -> our class.
FACTORY = {
    "collect": Collect, "fetch_assignment": FetchAssignment, "fetch_feedback": FetchFeedback, "list": List,
    "release_assignment": ReleaseAssignment, "release_feedback": ReleaseFeedback, "submit": Submit,
}
