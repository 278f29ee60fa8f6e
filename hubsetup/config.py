"""Apply hubsetup's settings to JupyterHub's config object, one concern per function.

Each function only sets values, so each can be read and tested alone and re-running is safe.
"""

import os

from . import hub_database, hub_pages, hub_words, modes
from . import settings as settings_module
from .singleuser import cookie_options_for
from .spawner import remember_launch_course

VENV_BIN = "/opt/venv/bin"
COURSE_BIN = "/opt/course/bin"
PROXY_COMMAND = "/opt/proxy/bin/configurable-http-proxy"
# The hub's compose service name: what user containers call the hub by.
HUB_SERVICE = "hub"
# The grading service's page (students' submissions), behind the proxy at /services/grading/.
GRADING_PAGE_URL = "http://127.0.0.1:8092"
GRADING_PAGE_PATH = "/services/grading/"


def update_hub(c, settings):
    c.JupyterHub.bind_url = "http://:8000"
    if not modes.of(settings).servers_apart:
        c.JupyterHub.hub_ip = "127.0.0.1"
    else:
        # User containers reach the hub's API over the users' network, by service name (an IP
        # would change whenever the hub's container is re-created).
        c.JupyterHub.hub_ip = "0.0.0.0"
        c.JupyterHub.hub_connect_ip = HUB_SERVICE
    database = os.path.join(settings.state_dir, "jupyterhub.sqlite")
    c.JupyterHub.db_url = "sqlite:///" + database
    hub_database.write_ahead(database)  # not a value of c: a hook on the connections the hub will open
    c.JupyterHub.cookie_secret_file = os.path.join(settings.state_dir, "jupyterhub_cookie_secret")
    c.JupyterHub.concurrent_spawn_limit = settings.spawn_limit
    # A newer image may bring a newer hub database schema: migrate at start (JupyterHub backs
    # up the SQLite file first, next to it in the state volume).
    c.JupyterHub.upgrade_db = True
    # Real names beside logins on the hub's pages, and their few words in UI_LANGUAGE.
    c.JupyterHub.template_paths = [hub_pages.TEMPLATES]
    c.JupyterHub.template_vars = {"shown_name": hub_pages.shown_name, "hub_words": hub_words.hub_words,
                                  "submissions_url": GRADING_PAGE_PATH}
    c.ConfigurableHTTPProxy.command = [PROXY_COMMAND]
    # Not in the state volume: at start the hub stops whatever process the pid file names, and
    # in a new container that number belongs to someone else.
    c.ConfigurableHTTPProxy.pid_file = "/run/jupyterhub-proxy.pid"


def update_embedding(c, settings):
    """Who may frame the hub (JupyterHub's default is nobody): itself and the LMS origins; and
    which cookies only travel over HTTPS.

    Inside an LMS frame the hub's cookies are third-party cookies, which browsers send only
    when marked SameSite=None; Secure. Behind the HTTPS front every cookie is Secure, the XSRF
    cookie too (JupyterHub marks only its login cookies, and only when it sees HTTPS itself).
    User servers get the same rules from LMS_ORIGINS and HTTPS_DOMAIN in their environment
    (hubsetup.singleuser)."""
    origins = settings.frame_origins
    tornado_settings = {
        "headers": {"Content-Security-Policy": "frame-ancestors " + " ".join(["'self'", *origins])}
    }
    cookie_options = cookie_options_for(origins, settings.https_domain)
    if cookie_options:
        tornado_settings["cookie_options"] = cookie_options
        tornado_settings["xsrf_cookie_kwargs"] = dict(cookie_options)
    c.JupyterHub.tornado_settings = tornado_settings


def update_auth(c, settings):
    c.JupyterHub.authenticator_class = "hubsetup.auth.HubAuthenticator"
    c.Authenticator.admin_users = settings.admins
    c.Authenticator.manage_groups = True
    # Login is decided by the registry (active accounts.csv rows and LTI users), not a list.
    c.Authenticator.allow_all = False
    c.Authenticator.any_allow_config = True
    # Launch data (course, roles, outcome service) kept per user, encrypted with the key that
    # `hubsetup start` keeps in the state volume.
    c.Authenticator.enable_auth_state = True
    c.LTI11Authenticator.username_key = settings.lti_username_key
    c.LTI11Authenticator.uri_scheme = settings.lti_uri_scheme
    c.LTI11Authenticator.config_title = "Teaching hub"


def update_spawner(c, settings):
    c.JupyterHub.spawner_class = modes.of(settings).spawner_class
    c.Spawner.auth_state_hook = remember_launch_course
    c.StartInTurns.starting_at_once = settings.starting_at_once
    c.HubSpawner.process_limit = settings.user_process_limit
    c.HubSpawner.server_factory = settings.forks_servers
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = settings.start_timeout
    c.Spawner.http_timeout = settings.start_timeout
    c.Spawner.environment = {
        # A terminal's python and pip are the course environment's (what notebooks run in);
        # the server's own commands are only in the venv. Node stays off user servers' PATH,
        # or JupyterLab runs node at every start.
        "PATH": f"{COURSE_BIN}:{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "NBGRADER_EXCHANGE": settings.exchange_root,
        "LMS_ORIGINS": " ".join(settings.frame_origins),
        "HTTPS_DOMAIN": settings.https_domain,
    }
    # nbgrader's JupyterHubAuthPlugin reads the user's groups (their courses) and the hub's
    # services with the server's token.
    c.Spawner.server_token_scopes = [
        "users:activity!user", "access:servers!server", "read:users:groups!user",
        "list:services", "read:services",
    ]


def update_mode(c, settings):
    """What the mode of SPAWNER adds (hubsetup.modes): for containers, the image, volumes,
    network and limits."""
    modes.of(settings).call("configure", c, settings)


# Users may hand their servers the service scopes nbgrader's course list asks for.
USER_ROLES = [{"name": "user", "scopes": ["self", "list:services", "read:services",
                                         "access:services!service=grading"]}]


def update_services(c, settings):
    """The idle culler (with only the scopes it needs), the accounts watcher, the grading
    service and the optional grade pusher."""
    services, roles = [], list(USER_ROLES)
    # JupyterHub gives services a filtered environment: hand ours the settings it needs.
    environment = settings_module.environment()
    if settings.accounts_watch > 0:
        # Root in the hub container, as `hubsetup accounts sync`: it writes /etc and homes.
        services.append({
            "name": "accounts-watch",
            "command": [f"{VENV_BIN}/hubsetup", "accounts", "watch", f"--interval={settings.accounts_watch}"],
            "environment": environment,
        })
    # Root in the hub container: it starts the sandboxes every autograde runs in, with
    # AUTOGRADE_ON_SUBMIT grades submissions as they arrive, and shows users where theirs are
    # (a page every user may open without a consent page; our navigation bar links to it).
    services.append({
        "name": "grading",
        "command": [f"{VENV_BIN}/hubsetup", "grading", "serve"],
        "environment": environment,
        "url": GRADING_PAGE_URL,
        "oauth_no_confirm": True,
        "display": False,
    })
    if settings.grades_auto_push > 0:
        # Runs as root in the hub container: it reads the gradebooks and the LTI secrets, which
        # instructors' own processes cannot.
        services.append({
            "name": "grades-autopush",
            "command": [f"{VENV_BIN}/hubsetup", "grades", "watch", f"--interval={settings.grades_auto_push}"],
            "environment": environment,
        })
    if settings.idle_timeout > 0:
        services.append({
            "name": "idle-culler",
            "command": [
                f"{VENV_BIN}/python3", "-m", "jupyterhub_idle_culler",
                f"--timeout={settings.idle_timeout}",
                # Look often enough that a server is stopped soon after its timeout.
                f"--cull-every={max(5, min(300, settings.idle_timeout // 2))}",
            ],
        })
        roles.append({
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        })
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles


def apply(c, settings):
    settings.check()
    update_hub(c, settings)
    update_embedding(c, settings)
    update_auth(c, settings)
    update_spawner(c, settings)
    update_mode(c, settings)
    update_services(c, settings)
