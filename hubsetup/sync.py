"""`hubsetup accounts sync`: accounts.csv into the registry, then the registry onto the system.

Order matters: validate the whole file, plan every change in the registry, hash new passwords
in one batch, then hand the registry to hubsetup.provision (one write of /etc, the homes). A
no-op sync reads, compares, and writes nothing.
"""

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field

from . import accounts as accounts_file
from . import courses, passwords, provision, registry, system
from .ids import IdPool
from .keys import ensure_secret
from .person_names import PersonName

DIGEST_KEY_FILE = "password-digest.key"
APPLIED_FILE = "accounts-applied.json"


@dataclass
class SyncReport:
    added: list = field(default_factory=list)
    password_changed: list = field(default_factory=list)
    locked: list = field(default_factory=list)
    unlocked: list = field(default_factory=list)
    unchanged: int = 0
    names_changed: int = 0  # real names given, changed or taken back by the `name` column
    homes_created: list = field(default_factory=list)
    files_written: list = field(default_factory=list)
    courses: dict = field(default_factory=dict)  # course: (instructors, students)
    sample_passwords: list = field(default_factory=list)
    skipped_rows: list = field(default_factory=list)  # "line N: why" of rows not applied
    warnings: list = field(default_factory=list)  # entries a user tampered with, skipped
    dry_run: bool = False
    source: accounts_file.Source = None
    rows: int = 0

    def summary(self):
        def names(logins, most=10):
            shown = ", ".join(logins[:most]) + (", ..." if len(logins) > most else "")
            return f" ({shown})" if logins else ""

        lines = [
            ("accounts sync (dry run, nothing changed)" if self.dry_run else "accounts sync")
            + f": {len(self.added)} added{names(self.added)},"
            f" {len(self.password_changed)} password changed{names(self.password_changed)},"
            f" {len(self.locked)} locked{names(self.locked)},"
            f" {len(self.unlocked)} unlocked{names(self.unlocked)}, {self.unchanged} unchanged"
        ]
        if self.names_changed:
            lines.append(f"real names: {self.names_changed} given or changed")
        if self.source:
            lines.append(f"read {self.source.describe(self.rows)}")
        if self.homes_created:
            lines.append(f"homes created: {len(self.homes_created)}{names(self.homes_created)}")
        for course, (instructors, students) in sorted(self.courses.items()):
            lines.append(f"course {course}: {instructors} instructor(s), {students} student(s)")
        lines.append("files written: " + (", ".join(self.files_written) or "none"))
        lines += [f"skipped {row}" for row in self.skipped_rows]
        lines += [f"WARNING: {warning}" for warning in self.warnings]
        if self.sample_passwords:
            lines.append(
                "WARNING: the sample passwords are still in use for " + ", ".join(self.sample_passwords)
                + ": anyone who has read the README can log in as them. Change them in accounts.csv."
            )
        return "\n".join(lines)


class _DryRun(Exception):
    pass


def password_digest(key, password):
    """A keyed digest to tell whether a CSV password changed without re-hashing it.

    Re-hashing every plaintext with a slow crypt costs seconds per thousand rows; the key lives
    in the hub-state volume beside the registry, which already holds the shadow hashes."""
    return hmac.new(key.encode(), password.encode(), hashlib.sha256).hexdigest()


def new_user_ids(logins, settings, pool):
    """UIDs for new users: an existing home gives back the UID that owns it."""
    uids, missing = {}, []
    for login in logins:
        owner = system.home_owner(os.path.join(settings.home_root, login))
        if pool.claim_home_owner(owner):
            uids[login] = owner
        else:
            missing.append(login)
    uids.update(zip(missing, pool.take(len(missing))))
    return uids


def _plan_csv_users(rows, known, etc_files, key, report):
    """Registry rows to save for accounts.csv; plaintext passwords still to hash are returned
    apart, so that they can be hashed in one batch."""
    changes, to_hash = {}, {}
    for account in rows:
        digest = password_digest(key, account.password)
        existing = known.get(account.login)
        row = dict(existing or {}, login=account.login, origin="csv", active=1, password_digest=digest)
        if existing is None:
            report.added.append(account.login)
        elif not existing["active"]:
            report.unlocked.append(account.login)
        new_password = existing is None or existing["password_digest"] != digest
        if new_password and existing is not None:
            report.password_changed.append(account.login)
        if new_password and account.password_is_hash:
            row["password_hash"] = account.password
        elif new_password:
            to_hash[account.login] = account.password
        else:
            _capture_own_password(row, etc_files)
        if existing is not None and existing["active"] and not new_password:
            report.unchanged += 1
        if row != existing:
            changes[account.login] = row
    return changes, to_hash


def _set_csv_names(db, rows):
    """The names of accounts.csv's `name` column; a row without one takes back a name it gave
    before, and leaves an LMS's alone. Returns how many names changed."""
    changed, names = 0, registry.all_names(db)
    for account in rows:
        name = PersonName(full=account.name)
        current, origin = names[account.login]
        if account.name and (current, origin) != (name, "csv"):
            registry.set_name(db, account.login, name, "csv")
        elif not account.name and origin == "csv":
            registry.set_name(db, account.login, PersonName(), "")
        else:
            continue
        changed += 1
    return changed


def _capture_own_password(row, etc_files):
    """Keep a password the user set themselves (passwd in a terminal) across re-creation."""
    current = etc_files.shadow_hash(row["login"])
    if current and not current.startswith(system.LOCK_PREFIX):
        row["password_hash"] = current


def _without_lti_conflicts(rows, known):
    """The rows to apply, and why each other row is not: a login an LTI launch made first
    stays that person's (it never becomes a password account), and the rest of the file still
    applies, so one such row cannot keep the hub from starting."""
    kept, skipped = [], []
    for account in rows:
        if account.login in known and known[account.login]["origin"] != "csv":
            skipped.append(
                f"line {account.line}: login {account.login!r} already belongs to a user an LTI launch "
                f"made; give this row another login, or remove that user first (hubsetup users remove "
                f"{account.login})"
            )
        else:
            kept.append(account)
    return kept, skipped


def sync_accounts(settings, dry_run=False, etc="/etc"):
    """Apply accounts.csv; returns a SyncReport. Raises AccountsError before changing anything."""
    report = SyncReport(dry_run=dry_run)
    key = ensure_secret(settings.state_dir, DIGEST_KEY_FILE)
    try:
        with registry.connect(settings.registry_path) as db:
            etc_files = system.EtcFiles(etc)  # read under the registry's write lock
            known = registry.users(db)
            rows, report.source = accounts_file.load(settings.accounts_file, etc_files.system_logins(known))
            report.sample_passwords = accounts_file.sample_password_logins(rows)
            report.rows = len(rows)
            rows, report.skipped_rows = _without_lti_conflicts(rows, known)
            changes, to_hash = _plan_csv_users(rows, known, etc_files, key, report)
            hashes = passwords.hash_many(list(to_hash.values()), settings.password_hash)
            for login, password_hash in zip(to_hash, hashes):
                changes[login]["password_hash"] = password_hash
            pool = IdPool.read(etc_files, db, settings)
            uids = new_user_ids(report.added, settings, pool)
            for login, uid in uids.items():
                changes[login]["uid"] = uid
            in_csv = {account.login for account in rows}
            for login, user in known.items():
                if user["origin"] == "csv" and user["active"] and login not in in_csv:
                    report.locked.append(login)
                    changes[login] = dict(user, active=0)
            for row in changes.values():
                registry.save_user(db, row)
            report.names_changed = _set_csv_names(db, rows)
            report.skipped_rows += courses.set_csv_memberships(db, rows, pool)
            report.courses = registry.course_sizes(db)
            if dry_run:
                raise _DryRun
            report.files_written, report.homes_created, report.warnings = provision.apply(db, settings, etc_files)
            record_applied(settings, report.source)
    except _DryRun:
        pass
    return report


def teachers_work(settings):
    """What a sync leaves to be done as the teachers (root opens nothing of theirs): students'
    names into gradebooks, samples for new teachers. Returns (logging level, line) pairs."""
    from . import gradebook_names, teacher_samples  # not needed by the sync itself, nor its tests

    lines = gradebook_names.outcome_lines(gradebook_names.refresh(settings))
    lines += [(logging.WARNING if "not given" in what else logging.INFO, f"teacher {login}: {what}")
              for login, what in sorted(teacher_samples.give(settings).items())]
    return lines


def record_applied(settings, source):
    """Which file the last sync applied, for `accounts watch` (and an admin's look)."""
    path = os.path.join(settings.state_dir, APPLIED_FILE)
    with open(path + ".tmp", "w") as f:
        json.dump({"path": source.path, "modified": source.modified, "sha256": source.sha256}, f)
    os.replace(path + ".tmp", path)


def applied_sha256(settings):
    try:
        with open(os.path.join(settings.state_dir, APPLIED_FILE)) as f:
            return json.load(f)["sha256"]
    except (FileNotFoundError, ValueError, KeyError):
        return None


def check_accounts(settings, path, etc="/etc"):
    """Validate an accounts file as a sync would, changing nothing; returns (the accounts a
    sync would apply, why each other row would be skipped)."""
    known = {}
    if os.path.exists(settings.registry_path):
        with registry.connect(settings.registry_path, write=False) as db:
            known = registry.users(db)
    rows, _ = accounts_file.load(path, system.EtcFiles(etc).system_logins(known))
    return _without_lti_conflicts(rows, known)
