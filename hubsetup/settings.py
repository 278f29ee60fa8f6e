"""Every setting an admin may change: one environment variable each, read here and nowhere else.

`hubsetup settings` prints this table; README.md's table is generated from it.
"""

import functools
import os
import re
from dataclasses import dataclass

SPAWNER_MODES = ("local", "docker", "swarm")
SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)B?$", re.I)
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
LOG_SIZE = re.compile(r"^[0-9]+[kmg]$")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


# Variables of older versions, and what to do instead: refused rather than silently ignored.
REPLACED = {
    "ACCOUNTS_CSV": "set ACCOUNTS_DIR to the folder that holds accounts.csv (a mounted folder sees "
                    "an edited or replaced file at once; a mounted single file does not)",
}


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    help: str
    kind: type = str


SETTINGS = {
    "accounts_file": Setting(
        "ACCOUNTS_FILE", "/srv/jupyterhub/private/site/accounts.csv",
        "The accounts file inside the container (compose mounts the folder ACCOUNTS_DIR, by default "
        "the one of docker-compose.yml, read-only at /srv/jupyterhub/private/site).",
    ),
    "accounts_watch": Setting(
        "ACCOUNTS_WATCH", "2",
        "Seconds between looks at accounts.csv: a changed file is applied by itself, and an invalid "
        "one leaves the hub as it was (0: only at start and with `hubsetup accounts sync`).", int,
    ),
    "state_dir": Setting(
        "HUB_STATE_DIR", "/srv/jupyterhub/state",
        "Hub state kept across container re-creation: hub database, generated secrets, the "
        "account registry, LTI launch records. A volume of its own.",
    ),
    "home_root": Setting("HOME_ROOT", "/home", "Where user homes live (the jh_home volume)."),
    "exchange_root": Setting(
        "NBGRADER_EXCHANGE", "/srv/nbgrader/exchange",
        "nbgrader exchange (the jh_exchange volume).",
    ),
    "courses_root": Setting(
        "NBGRADER_COURSES", "/srv/nbgrader/courses",
        "nbgrader course directories and gradebooks, one per course (the jh_courses volume).",
    ),
    "password_hash": Setting(
        "PASSWORD_HASH", "sha512",
        "How plaintext passwords from accounts.csv are hashed: sha512, yescrypt (slower, "
        "stronger), sha256 or bcrypt.",
    ),
    "first_uid": Setting(
        "FIRST_UID", "2000",
        "Lowest UID/GID given to hub users and course groups; existing homes keep their UID.",
        int,
    ),
    "admin_users": Setting(
        "ADMIN_USERS", "",
        "Space-separated logins that are JupyterHub admins (they can see and stop all servers).",
    ),
    "idle_timeout": Setting(
        "IDLE_TIMEOUT", "3600",
        "Seconds of inactivity after which a user's server is stopped (0 turns the culler off).",
        int,
    ),
    "spawn_limit": Setting(
        "CONCURRENT_SPAWN_LIMIT", "100",
        "How many servers may be starting at once.", int,
    ),
    "starting_at_once": Setting(
        "STARTING_AT_ONCE", "0",
        "How many servers may be starting at the same moment; the others queue (not refused). "
        "0: as many as CPU cores.", int,
    ),
    "start_timeout": Setting(
        "START_TIMEOUT", "300",
        "Seconds a user's server may take to start before the attempt is abandoned.", int,
    ),
    "lti_key": Setting(
        "LTI_KEY", "",
        "LTI consumer key an LMS signs launches with (with LTI_SECRET). When unset, "
        "`hubsetup lti passport` generates a key and secret once and keeps them in the state volume.",
    ),
    "lti_secret": Setting("LTI_SECRET", "", "The secret that goes with LTI_KEY."),
    "lti_username_key": Setting(
        "LTI_USERNAME_KEY", "lis_person_sourcedid",
        "Launch field that names the user (edX sends lis_person_sourcedid, the edX username, when "
        "\"Request user's username\" is on); the anonymous user_id is used when it is absent.",
    ),
    "lti_uri_scheme": Setting(
        "LTI_URI_SCHEME", "auto",
        "Scheme of the launch URL the LMS signed: auto (from X-Forwarded-Proto), https or http. "
        "Set https behind a TLS proxy that does not send X-Forwarded-Proto.",
    ),
    "lms_origins": Setting(
        "LMS_ORIGINS", "",
        "Space-separated origins allowed to show the hub inside a frame, e.g. "
        "`https://courses.example.org https://studio.example.org` (edX shows LTI components "
        "inline). Needs HTTPS: cookies then become `SameSite=None; Secure`.",
    ),
    "https_domain": Setting(
        "HTTPS_DOMAIN", "",
        "The name the hub is served under over HTTPS; compose sets it from DOMAIN (README: "
        "\"HTTPS\"). Every cookie of the hub and of users' servers is then Secure.",
    ),
    "spawner": Setting(
        "SPAWNER", "local",
        "Where user servers run: local (processes in the hub container), docker (a container "
        "per user; add docker-compose.docker.yml) or swarm (a Swarm service per user; "
        "docker-stack.yml). README: \"Choosing where servers run\".",
    ),
    "user_image": Setting(
        "USER_IMAGE", "teaching-hub-user:latest",
        "Image of per-user containers (docker and swarm): the Dockerfile's `user` target.",
    ),
    "user_mem_limit": Setting(
        "USER_MEM_LIMIT", "1G",
        "Memory of one user's server and kernels together (docker and swarm), e.g. 512M, 2G; "
        "past it the kernel that asked for more is killed.",
    ),
    "user_cpu_limit": Setting(
        "USER_CPU_LIMIT", "1", "CPU cores one user's server may use (docker and swarm), e.g. 0.5.",
        float,
    ),
    "user_process_limit": Setting(
        "USER_PROCESS_LIMIT", "512",
        "Processes and threads one user may run at once (server, kernels and terminals together), "
        "in every mode: a fork or thread bomb stops there instead of exhausting the machine.", int,
    ),
    "user_disk_warning": Setting(
        "USER_DISK_WARNING", "2G",
        "`hubsetup status` warns about each user whose home holds more than this, e.g. 500M, 5G "
        "(0: no warning). A filesystem of users' files over 90% full is always warned about.",
    ),
    "log_max_size": Setting(
        "LOG_MAX_SIZE", "10m",
        "Size at which a container's log is rotated (3 files are kept), e.g. 1m, 50m: the hub's "
        "and users' containers alike, so printing in a loop cannot fill the disk. Set it in "
        "`.env`: compose reads it for the hub's own container.",
    ),
    "user_tmp_size": Setting(
        "USER_TMP_SIZE", "256M",
        "Size of /tmp in users' containers (docker and swarm), held in memory and counted in "
        "USER_MEM_LIMIT; the rest of a container's own files is read-only.",
    ),
    "user_network": Setting(
        "USER_NETWORK", "",
        "Docker network of per-user containers; empty: the hub's own network named `*_users`.",
    ),
    "grades_auto_push": Setting(
        "GRADES_AUTO_PUSH", "0",
        "Seconds between automatic pushes of new or changed scores to the LMS after grading "
        "(0: off; push by hand with `hubsetup grades push`).", int,
    ),
}


@dataclass(frozen=True)
class Settings:
    accounts_file: str
    accounts_watch: int
    state_dir: str
    home_root: str
    exchange_root: str
    courses_root: str
    password_hash: str
    first_uid: int
    admin_users: str
    idle_timeout: int
    spawn_limit: int
    start_timeout: int
    starting_at_once: int
    lti_key: str
    lti_secret: str
    lti_username_key: str
    lti_uri_scheme: str
    grades_auto_push: int
    lms_origins: str
    https_domain: str
    spawner: str
    user_image: str
    user_mem_limit: str
    user_cpu_limit: float
    user_process_limit: int
    user_disk_warning: str
    log_max_size: str
    user_tmp_size: str
    user_network: str

    @classmethod
    def from_env(cls, env=None, **overrides):
        env = os.environ if env is None else env
        for name, instead in REPLACED.items():
            if env.get(name):
                raise SystemExit(f"{name} is no longer read: {instead}")
        values = {}
        for name, setting in SETTINGS.items():
            raw = env.get(setting.env, setting.default)
            try:
                values[name] = setting.kind(raw)
            except ValueError:
                raise SystemExit(
                    f"setting {setting.env}={raw!r} must be a {setting.kind.__name__}"
                )
        values.update(overrides)
        return cls(**values)

    def check(self):
        """Every value with a form of its own, checked at once: the hub refuses to start with
        a message naming the setting, instead of failing later at the first use."""
        return (self.frame_origins, self.lti_consumers, self.spawner_mode, self.disk_warning_bytes, self.log_size,
                self.tmp_size_bytes)

    @property
    def admins(self):
        """Lowercased, as JupyterHub normalises them (ADMIN_USERS=Alice makes `alice` admin)."""
        return {name.lower() for name in self.admin_users.split()}

    @property
    def frame_origins(self):
        """LMS_ORIGINS as a list, each checked: scheme://host[:port], nothing more."""
        origins = self.lms_origins.split()
        for origin in origins:
            if not ORIGIN.match(origin):
                raise SystemExit(
                    f"LMS_ORIGINS: {origin!r} is not an origin like https://courses.example.org "
                    "(scheme and host, optional port, no path; '*' is not allowed)"
                )
        return origins

    @property
    def lti_consumers(self):
        """The consumer configured in the environment, as {key: secret}."""
        if bool(self.lti_key) != bool(self.lti_secret):
            raise SystemExit("LTI_KEY and LTI_SECRET must be set together")
        return {self.lti_key: self.lti_secret} if self.lti_key else {}

    @property
    def spawner_mode(self):
        if self.spawner not in SPAWNER_MODES:
            raise SystemExit(f"SPAWNER={self.spawner!r}: must be one of {', '.join(SPAWNER_MODES)}")
        return self.spawner

    @property
    def disk_warning_bytes(self):
        return parse_size("USER_DISK_WARNING", self.user_disk_warning)

    @property
    def tmp_size_bytes(self):
        return parse_size("USER_TMP_SIZE", self.user_tmp_size)

    @property
    def log_size(self):
        """LOG_MAX_SIZE as Docker's json-file log driver takes it."""
        if not LOG_SIZE.match(self.log_max_size):
            raise SystemExit(f"LOG_MAX_SIZE={self.log_max_size!r}: give a size like 500k, 10m or 1g")
        return self.log_max_size

    @property
    def registry_path(self):
        return os.path.join(self.state_dir, "registry.sqlite")


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
    return {setting.env: env[setting.env] for setting in SETTINGS.values() if setting.env in env}


def markdown_table():
    rows = ["| Variable | Default | What it does |", "|---|---|---|"]
    for setting in SETTINGS.values():
        rows.append(f"| `{setting.env}` | `{setting.default}` | {setting.help} |")
    return "\n".join(rows)
