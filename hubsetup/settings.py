"""Every setting an admin may change: one environment variable each, read here and nowhere else.

`hubsetup settings` prints this table; README.md's table is generated from it.
"""

import functools
import os
import re
from dataclasses import dataclass, field, fields

from .accounts import COURSE_PATTERN as COURSE_NAME
from .modes import MODES

SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)B?$", re.I)
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
LOG_SIZE = re.compile(r"^[0-9]+[kmg]$")  # as Docker's json-file log driver takes it
MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?[KMGT]?$")  # as dockerspawner takes it
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


# Variables of older versions, and what to do instead: refused rather than silently ignored.
REPLACED = {
    "ACCOUNTS_CSV": "set ACCOUNTS_DIR to the folder that holds accounts.csv (a mounted folder sees "
                    "an edited or replaced file at once; a mounted single file does not)",
}


def setting(env, default, help, check=None):
    """A field of Settings: the environment variable that sets it, its default as written in
    hub.env, what it does (for README's table and `hubsetup settings`), and `check(variable,
    value)`, which stops the hub with a message naming the variable when the value is wrong."""
    return field(metadata={"env": env, "default": default, "help": help, "check": check})


def check_origins(variable, value):
    for origin in value.split():
        if not ORIGIN.match(origin):
            raise SystemExit(
                f"{variable}: {origin!r} is not an origin like https://courses.example.org "
                "(scheme and host, optional port, no path; '*' is not allowed)"
            )


def check_mode(variable, value):
    if value not in MODES:
        raise SystemExit(f"{variable}={value!r}: must be one of {', '.join(MODES)}")


def check_size(variable, value):
    parse_size(variable, value)


def check_memory(variable, value):
    if not MEMORY.match(value):
        raise SystemExit(f"{variable}={value!r}: give a size like 512M or 2G")


def check_positive(variable, value):
    if value <= 0:
        raise SystemExit(f"{variable}={value:g}: must be more than 0")


def check_course_list(variable, value):
    for name in value.split():
        if name != "*" and not COURSE_NAME.match(name):
            raise SystemExit(f"{variable}: {name!r} is not a course name (or `*` for every course)")


def check_yes_no(variable, value):
    if value not in ("yes", "no"):
        raise SystemExit(f"{variable}={value!r}: must be yes or no")


def check_log_size(variable, value):
    if not LOG_SIZE.match(value):
        raise SystemExit(f"{variable}={value!r}: give a size like 500k, 10m or 1g")


# UI_LANGUAGE -> the locale users' servers run in (JupyterLab's default display language, with
# its official language pack, and the system's messages and formats).
UI_LANGUAGES = {"en": "C.UTF-8", "zh_CN": "zh_CN.UTF-8", "fr_FR": "fr_FR.UTF-8"}


def check_language(variable, value):
    if value not in UI_LANGUAGES:
        raise SystemExit(f"{variable}={value!r}: must be one of {', '.join(UI_LANGUAGES)}")


def declared():
    """(field name, type, variable, default, help) of every setting, in the order of README."""
    return [(f.name, f.type, f.metadata["env"], f.metadata["default"], f.metadata["help"])
            for f in fields(Settings)]


@dataclass(frozen=True)
class Settings:
    """Every setting, declared once: its variable, default (as written in hub.env), help, and
    type; read by from_env, printed by `hubsetup settings`, tabled in README."""

    accounts_file: str = setting(
        "ACCOUNTS_FILE", "/srv/jupyterhub/private/site/accounts.csv",
        "The accounts file inside the container (compose mounts the folder ACCOUNTS_DIR, by default "
        "the one of docker-compose.yml, read-only at /srv/jupyterhub/private/site).",
    )
    accounts_watch: int = setting(
        "ACCOUNTS_WATCH", "2",
        "Seconds between looks at accounts.csv: a changed file is applied by itself, and an invalid "
        "one leaves the hub as it was (0: only at start and with `hubsetup accounts sync`)."
    )
    state_dir: str = setting(
        "HUB_STATE_DIR", "/srv/jupyterhub/state",
        "Hub state kept across container re-creation: hub database, generated secrets, the "
        "account registry, LTI launch records. A volume of its own.",
    )
    home_root: str = setting(
        "HOME_ROOT", "/home", "Where user homes live (the jh_home volume)."
    )
    exchange_root: str = setting(
        "NBGRADER_EXCHANGE", "/srv/nbgrader/exchange",
        "nbgrader exchange (the jh_exchange volume).",
    )
    courses_root: str = setting(
        "NBGRADER_COURSES", "/srv/nbgrader/courses",
        "nbgrader course directories and gradebooks, one per course (the jh_courses volume).",
    )
    password_hash: str = setting(
        "PASSWORD_HASH", "sha512",
        "How plaintext passwords from accounts.csv are hashed: sha512, yescrypt (slower, "
        "stronger), sha256 or bcrypt.",
    )
    first_uid: int = setting(
        "FIRST_UID", "2000",
        "Lowest UID/GID given to hub users and course groups; existing homes keep their UID."
    )
    admin_users: str = setting(
        "ADMIN_USERS", "",
        "Space-separated logins that are JupyterHub admins (they can see and stop all servers).",
    )
    idle_timeout: int = setting(
        "IDLE_TIMEOUT", "3600",
        "Seconds of inactivity after which a user's server is stopped (0 turns the culler off)."
    )
    ui_language: str = setting(
        "UI_LANGUAGE", "en",
        "JupyterLab's language for every user (en, zh_CN or fr_FR), with the system's locale to "
        "match; each user can still choose another in Settings → Language.",
        check_language,
    )
    spawn_limit: int = setting(
        "CONCURRENT_SPAWN_LIMIT", "100",
        "How many servers may be starting at once."
    )
    starting_at_once: int = setting(
        "STARTING_AT_ONCE", "0",
        "How many servers may be starting at the same moment; the others queue (not refused). "
        "0: as many as CPU cores."
    )
    start_timeout: int = setting(
        "START_TIMEOUT", "300",
        "Seconds a user's server may take to start before the attempt is abandoned."
    )
    lti_key: str = setting(
        "LTI_KEY", "",
        "LTI consumer key an LMS signs launches with (with LTI_SECRET). When unset, "
        "`hubsetup lti passport` generates a key and secret once and keeps them in the state volume.",
    )
    lti_secret: str = setting(
        "LTI_SECRET", "", "The secret that goes with LTI_KEY."
    )
    lti_username_key: str = setting(
        "LTI_USERNAME_KEY", "lis_person_sourcedid",
        "Launch field that names the user (edX sends lis_person_sourcedid, the edX username, when "
        "\"Request user's username\" is on); the anonymous user_id is used when it is absent.",
    )
    lti_uri_scheme: str = setting(
        "LTI_URI_SCHEME", "auto",
        "Scheme of the launch URL the LMS signed: auto (from X-Forwarded-Proto), https or http. "
        "Set https behind a TLS proxy that does not send X-Forwarded-Proto.",
    )
    lms_origins: str = setting(
        "LMS_ORIGINS", "",
        "Space-separated origins allowed to show the hub inside a frame, e.g. "
        "`https://courses.example.org https://studio.example.org` (edX shows LTI components "
        "inline). Needs HTTPS: cookies then become `SameSite=None; Secure`.",
        check=check_origins,
    )
    https_domain: str = setting(
        "HTTPS_DOMAIN", "",
        "The name the hub is served under over HTTPS; compose sets it from DOMAIN (README: "
        "\"HTTPS\"). Every cookie of the hub and of users' servers is then Secure.",
    )
    spawner: str = setting(
        "SPAWNER", "local",
        "Where user servers run: local (processes in the hub container), docker (a container "
        "per user; add docker-compose.docker.yml) or swarm (a Swarm service per user; "
        "docker-stack.yml). README: \"Choosing where servers run\".",
        check=check_mode,
    )
    user_image: str = setting(
        "USER_IMAGE", "teaching-hub-user:latest",
        "Image of per-user containers (docker and swarm): the Dockerfile's `user` target.",
    )
    user_mem_limit: str = setting(
        "USER_MEM_LIMIT", "1G",
        "Memory of one user's server and kernels together (docker and swarm), e.g. 512M, 2G; "
        "past it the kernel that asked for more is killed.",
        check=check_memory,
    )
    user_cpu_limit: float = setting(
        "USER_CPU_LIMIT", "1", "CPU cores one user's server may use (docker and swarm), e.g. 0.5.",
        check=check_positive,
    )
    user_process_limit: int = setting(
        "USER_PROCESS_LIMIT", "512",
        "Processes and threads one user may run at once (server, kernels and terminals together), "
        "in every mode: a fork or thread bomb stops there instead of exhausting the machine."
    )
    server_factory: str = setting(
        "SERVER_FACTORY", "yes",
        "Local mode: users' servers and Python kernels are forked from processes that imported "
        "everything once (a class starts several times faster, in less memory); `no` starts each "
        "one the plain way. A server or kernel the factories cannot make starts the plain way anyway.",
        check=check_yes_no,
    )
    user_disk_warning: str = setting(
        "USER_DISK_WARNING", "2G",
        "`hubsetup status` warns about each user whose home holds more than this, e.g. 500M, 5G "
        "(0: no warning). A filesystem of users' files over 90% full is always warned about.",
        check=check_size,
    )
    log_max_size: str = setting(
        "LOG_MAX_SIZE", "10m",
        "Size at which a container's log is rotated (3 files are kept), e.g. 1m, 50m: the hub's "
        "and users' containers alike, so printing in a loop cannot fill the disk. Set it in "
        "`.env`: compose reads it for the hub's own container.",
        check=check_log_size,
    )
    user_tmp_size: str = setting(
        "USER_TMP_SIZE", "256M",
        "Size of /tmp in users' containers (docker and swarm), held in memory and counted in "
        "USER_MEM_LIMIT; the rest of a container's own files is read-only.",
        check=check_size,
    )
    user_network: str = setting(
        "USER_NETWORK", "",
        "Docker network of per-user containers; empty: the hub's own network named `*_users`.",
    )
    grades_auto_push: int = setting(
        "GRADES_AUTO_PUSH", "0",
        "Seconds between automatic pushes of new or changed scores to the LMS after grading "
        "(0: off; push by hand with `hubsetup grades push`)."
    )
    autograde_on_submit: str = setting(
        "AUTOGRADE_ON_SUBMIT", "",
        "Courses whose submissions are autograded as they arrive (in the sandbox), their scores "
        "sent to the LMS at once: course names separated by spaces, `*` for every course, empty "
        "for none (teachers click Autograde in the formgrader).",
        check=check_course_list,
    )
    autograde_feedback: str = setting(
        "AUTOGRADE_FEEDBACK", "*",
        "Of the courses graded on submit, those whose students get their feedback at once (names, "
        "or `*` for all; empty: teachers release feedback themselves).",
        check=check_course_list,
    )
    grading_concurrency: int = setting(
        "GRADING_CONCURRENCY", "1",
        "Notebooks graded at once, by the button, the command line and on submit alike; the others "
        "wait their turn (one per core leaves the rest to students' servers).",
        check=check_positive,
    )
    grading_cpu_seconds: int = setting(
        "GRADING_CPU_SECONDS", "120",
        "CPU seconds a notebook's grading run may use (per process); past it, the cells not run "
        "score zero and the feedback says which limit.",
        check=check_positive,
    )
    grading_wall_seconds: int = setting(
        "GRADING_WALL_SECONDS", "300",
        "Seconds a notebook's whole grading run may take (nbgrader's per-cell timeout, 30 s, "
        "stops a single cell earlier).",
        check=check_positive,
    )
    grading_memory: str = setting(
        "GRADING_MEMORY", "2G",
        "Memory of a grading run: the container's limit in the docker and swarm modes, each "
        "process's address space in the local mode.",
        check=check_size,
    )
    grading_processes: int = setting(
        "GRADING_PROCESSES", "64",
        "Processes and threads of a grading run together (a fork bomb stops there).",
        check=check_positive,
    )
    grading_file_size: str = setting(
        "GRADING_FILE_SIZE", "100M",
        "Largest file a grading run may write.",
        check=check_size,
    )

    @classmethod
    def from_env(cls, env=None, **overrides):
        env = os.environ if env is None else env
        for name, instead in REPLACED.items():
            if env.get(name):
                raise SystemExit(f"{name} is no longer read: {instead}")
        values = {}
        for name, kind, variable, default, _ in declared():
            raw = env.get(variable, default)
            try:
                values[name] = kind(raw)
            except ValueError:
                raise SystemExit(f"setting {variable}={raw!r} must be a {kind.__name__}")
        values.update(overrides)
        return cls(**values)

    def check(self):
        """Every value with a form of its own, checked at once: the hub refuses to start with
        a message naming the setting, instead of failing later at the first use."""
        for f in fields(self):
            if f.metadata["check"]:
                f.metadata["check"](f.metadata["env"], getattr(self, f.name))
        self.lti_consumers  # noqa: B018 (the one rule between two settings)

    @property
    def admins(self):
        """Lowercased, as JupyterHub normalises them (ADMIN_USERS=Alice makes `alice` admin)."""
        return {name.lower() for name in self.admin_users.split()}

    @property
    def frame_origins(self):
        """LMS_ORIGINS as a list, each checked: scheme://host[:port], nothing more."""
        check_origins("LMS_ORIGINS", self.lms_origins)
        return self.lms_origins.split()

    @property
    def lti_consumers(self):
        """The consumer configured in the environment, as {key: secret}."""
        if bool(self.lti_key) != bool(self.lti_secret):
            raise SystemExit("LTI_KEY and LTI_SECRET must be set together")
        return {self.lti_key: self.lti_secret} if self.lti_key else {}

    @property
    def spawner_mode(self):
        check_mode("SPAWNER", self.spawner)
        return self.spawner

    @property
    def disk_warning_bytes(self):
        return parse_size("USER_DISK_WARNING", self.user_disk_warning)

    @property
    def grading_memory_bytes(self):
        return parse_size("GRADING_MEMORY", self.grading_memory)

    @property
    def grading_file_size_bytes(self):
        return parse_size("GRADING_FILE_SIZE", self.grading_file_size)

    def graded_on_submit(self, course):
        return _names(self.autograde_on_submit, course)

    def feedback_on_submit(self, course):
        return _names(self.autograde_feedback, course)

    @property
    def tmp_size_bytes(self):
        return parse_size("USER_TMP_SIZE", self.user_tmp_size)

    @property
    def forks_servers(self):
        return self.spawner_mode == "local" and self.server_factory == "yes"

    @property
    def registry_path(self):
        return os.path.join(self.state_dir, "registry.sqlite")


def _names(listed, course):
    names = listed.split()
    return "*" in names or course in names


def parse_size(name, text):
    """Bytes in a size like 512M, 2G or 1.5 GB (binary units); `name` is the setting, for the error."""
    match = SIZE.match(text.strip())
    if not match:
        raise SystemExit(f"{name}={text!r}: give a size like 500M or 2G")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


@functools.lru_cache(maxsize=1)
def current():
    """The settings of this process's environment, read once (for the hub's own classes)."""
    return Settings.from_env()


def environment(env=None):
    """The settings given in this environment, for processes JupyterHub starts with a filtered
    environment of their own (its managed services)."""
    env = os.environ if env is None else env
    return {variable: env[variable] for _, _, variable, _, _ in declared() if variable in env}


def markdown_table():
    rows = ["| Variable | Default | What it does |", "|---|---|---|"]
    for _, _, variable, default, help in declared():
        rows.append(f"| `{variable}` | `{default}` | {help} |")
    return "\n".join(rows)
