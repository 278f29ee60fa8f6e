"""`hubsetup accounts watch`: apply accounts.csv whenever it changes, without a restart.

Runs beside the hub as one of its services. A restart in local mode stops every student's
notebook, and an admin who edits the file expects it to apply; so the file is looked at every
few seconds (a stat; it is read and hashed only when that changed) and synced when its content
differs from what the last sync applied. An invalid file is reported once and changes nothing.
"""

import logging
import os
import time

from .accounts import AccountsError
from .accounts import read as read_accounts
from .sync import applied_sha256, sync_accounts, teachers_work

log = logging.getLogger(__name__)


def fingerprint(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class Watcher:
    def __init__(self, settings, etc="/etc"):
        self.settings, self.etc = settings, etc
        self.seen = None  # the stat fingerprint last looked at
        self.refused = None  # sha256 of a file that failed: reported once, not every round

    def look(self):
        """One round: sync if the file changed since the last sync; returns the report or None."""
        seen = fingerprint(self.settings.accounts_file)
        if seen == self.seen:
            return None
        self.seen = seen
        try:
            _, source = read_accounts(self.settings.accounts_file)
        except AccountsError as error:
            return self.refuse(None, error)
        if source.sha256 in (applied_sha256(self.settings), self.refused):
            return None
        try:
            report = sync_accounts(self.settings, etc=self.etc)
        except AccountsError as error:
            return self.refuse(source.sha256, error)
        self.refused = None
        log.info("accounts.csv changed, applied:\n%s", report.summary())
        for level, line in teachers_work(self.settings):
            log.log(level, "%s", line)
        return report

    def refuse(self, sha256, error):
        self.refused = sha256
        log.error("accounts.csv changed but was not applied; the hub keeps the accounts it had.\n%s", error)


def watch(settings, interval, rounds=None):
    watcher = Watcher(settings)
    while rounds is None or rounds > 0:
        try:
            watcher.look()
        except Exception:  # a busy registry, a full disk: try again next round
            log.exception("accounts watch: this round failed")
            watcher.seen = None
        time.sleep(interval)
        rounds = None if rounds is None else rounds - 1
