"""What a verified LTI launch does: find or create the user, join the course, record the launch.

Runs in one registry write transaction, so concurrent launches and an admin's sync cannot hand
out the same login or UID twice, and a launch that fails part-way leaves nothing behind.
"""

import time
from dataclasses import dataclass, field

from .. import accounts, courses, provision, registry, system
from ..ids import IdPool
from ..keys import ensure_secret
from ..person_names import PersonName
from .names import candidate_courses, candidate_logins


NAMES_KEY_FILE = "lti-names.key"


@dataclass
class Launch:
    consumer_key: str
    lti_user: str        # the value identifying the person (edX username or anonymous id)
    context_id: str      # the LMS's course
    instructor: bool
    resource_link_id: str
    assignment: str = ""
    score_url: str = ""  # where its score goes: LTI 1.1's outcome service, LTI 1.3's line item
    score_for: str = ""  # whom the score is for there: LTI 1.1's result sourcedid, LTI 1.3's sub
    protocol: str = "lti11"  # which protocol's sender takes the grade back (hubsetup.grades)
    anonymous_id: str = ""  # the LMS's opaque id of the person: the login when their name gives none
    login_source: str = ""  # what a new login is made from when not lti_user (LTI 1.3: a name, not `sub`)
    line_items_url: str = ""  # LTI 1.3, a link with no line item: where to find or make the assignment's
    roster_url: str = ""  # LTI 1.3: where the course's members can be read (Names and Role Provisioning)
    name: PersonName = field(default_factory=PersonName)  # as the LMS gives it; empty when it does not


def _free_login(db, etc_files, settings, launch):
    """The first candidate name that is no one's: no registry user, no system account, no
    reserved or admin name (an admin listed before their accounts.csv row exists must not be
    claimable by a launch)."""
    taken = set(registry.users(db)) | set(etc_files.tables["passwd"]) | set(etc_files.tables["group"])
    taken |= accounts.RESERVED_LOGINS | settings.admins | registry.retired_logins(db)
    for login in candidate_logins(launch.login_source or launch.lti_user, names_key(settings), launch.anonymous_id):
        if login not in taken and not courses.is_course_group(login):
            return login
    raise RuntimeError(f"no free login for LTI user {launch.lti_user!r}")


def names_key(settings):
    """The key of the hash suffixes of names: unknown outside the hub, so that no one can take
    in advance the names another person's launch would try."""
    return ensure_secret(settings.state_dir, NAMES_KEY_FILE)


def _new_lti_user(db, pool, etc_files, settings, launch):
    login = _free_login(db, etc_files, settings, launch)
    (uid,) = pool.take()
    registry.save_user(db, {
        "login": login, "uid": uid, "origin": "lti", "active": 1,
        "password_hash": system.NO_PASSWORD, "password_digest": "",
    })
    registry.link_lti_identity(db, launch.consumer_key, launch.lti_user, login)
    return login


def _course_of(db, settings, launch, known_courses):
    """The hub course of (consumer, context_id): each pair gets a course of its own, so that
    no LMS, and no course of one LMS, can launch into another's course or an accounts.csv one
    (unless an admin mapped it: `hubsetup lti map-course`)."""
    course = registry.lti_course(db, launch.consumer_key, launch.context_id)
    if course is None:
        course = _new_course_name(db, launch, known_courses, names_key(settings))
        registry.map_lti_context(db, launch.consumer_key, launch.context_id, course)
    return course


def _new_course_name(db, launch, known_courses, key):
    """Readable first; a name another course has gets a short hash."""
    mapped = registry.mapped_courses(db)
    for candidate in candidate_courses(launch.consumer_key, launch.context_id, key):
        if candidate in mapped:
            continue
        # A course of this consumer's launches from before contexts were recorded is adopted.
        if candidate not in known_courses or registry.launched_only_by(db, candidate, launch.consumer_key):
            return candidate
    raise RuntimeError(f"no free course name for context {launch.context_id!r}")


def _keep_name(db, login, name):
    """The LMS's name, when it sends one, unless accounts.csv gives the user another."""
    if not name:
        return
    current, origin = registry.name_of(db, login)
    if origin != "csv" and current != name:
        registry.set_name(db, login, name, "lti")


def apply_launch(settings, launch, etc="/etc"):
    """(login, course) for this launch, with its user, home, course and groups in place."""
    with registry.connect(settings.registry_path) as db:
        etc_files = system.EtcFiles(etc)
        login = registry.lti_login(db, launch.consumer_key, launch.lti_user)
        known_courses = registry.courses(db)
        course = _course_of(db, settings, launch, known_courses)
        # Reading the id pool scans every home: only a new user or a new course needs ids.
        if login is None or course not in known_courses:
            pool = IdPool.read(etc_files, db, settings)
            if login is None:
                login = _new_lti_user(db, pool, etc_files, settings, launch)
            courses.ensure_course(db, course, pool, known_courses)
        _keep_name(db, login, launch.name)
        role = courses.INSTRUCTOR if launch.instructor else courses.STUDENT
        registry.add_membership(db, login, course, role, "lti")
        registry.record_launch(db, {
            "login": login, "course": course, "assignment": launch.assignment,
            "consumer_key": launch.consumer_key, "resource_link_id": launch.resource_link_id,
            "score_url": launch.score_url,
            "score_for": launch.score_for, "launched_at": time.time(),
            "protocol": launch.protocol, "line_items_url": launch.line_items_url,
        })
        if launch.roster_url:
            registry.record_roster(db, course, launch.consumer_key, launch.roster_url)
        provision.apply(db, settings, etc_files, logins=[login])
    return login, course
