"""Samples for every new teacher of accounts.csv, given once (the registry remembers): the
README's teacher guide can then be followed end to end on the first day. Written by
`sample_writer`, run as the teacher (hubsetup.as_instructor): root opens nothing of theirs."""

import os
import time

from . import as_instructor, courses, registry
from .provision import home_of


def teachers_without_samples(db):
    """[(login, uid, course, instructor gid)] of accounts.csv teachers not given the samples
    yet, each with the first course they teach."""
    rows = db.execute(
        "SELECT login, uid, MIN(course) FROM memberships JOIN users USING (login)"
        " WHERE role = 'instructor' AND users.origin = 'csv' AND users.active = 1"
        " AND login NOT IN (SELECT login FROM samples_given) GROUP BY login ORDER BY login")
    known = registry.courses(db)
    return [(login, uid, course, known[course]["instructor_gid"]) for login, uid, course in map(tuple, rows)]


def give(settings):
    """{login: what happened} for each teacher given the samples now."""
    with registry.connect(settings.registry_path, write=False) as db:
        waiting = teachers_without_samples(db)
    outcome = {}
    for login, uid, course, gid in waiting:
        request = {"home": home_of(settings, login),
                   "source": os.path.join(courses.instructor_link(settings, login, course), "source")}
        try:
            given = as_instructor.run(settings, (login, uid), gid, "hubsetup.sample_writer", request)
        except (OSError, ValueError) as error:
            outcome[login] = f"samples not given: {error}"
            continue
        with registry.connect(settings.registry_path) as db:
            db.execute("INSERT OR IGNORE INTO samples_given (login, given_at) VALUES (?, ?)", (login, time.time()))
        outcome[login] = f"samples given: {given}"
    return outcome
