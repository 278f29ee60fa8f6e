"""Drive the real compose stack: build, up, exec, logs, down, and a browser-like hub client."""

import glob
import json
import os
import re
import time

import docker
import requests

from . import commands

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DATA = re.compile(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', re.S)


class Stack:
    """One compose project of the repo's docker-compose.yml (and `overrides`, e.g.
    docker-compose.docker.yml), with its own accounts file (named accounts.csv, in a folder of
    its own: compose mounts the folder)."""

    def __init__(self, project, port, accounts_path, overrides=()):
        self.project, self.port, self.accounts_path = project, port, accounts_path
        self.files = ["docker-compose.yml", *overrides]
        self.env_file = os.path.join(os.path.dirname(accounts_path), "hub.env")
        self.env = dict(
            os.environ, HUB_PORT=str(port), ACCOUNTS_DIR=os.path.dirname(accounts_path), HUB_IMAGE="teaching-hub:test",
            HUB_ENV_FILE=self.env_file, PROXY_IMAGE="teaching-hub-proxy:test", USER_IMAGE="teaching-hub-user:test",
        )
        self.profiles = []

    # Tests edit accounts.csv and sync at once, then read what that sync did: the hub's own
    # watcher would race them. The tests of the watcher turn it on. The sandbox tests' LMS
    # course is graded on submit.
    base_settings = {"ACCOUNTS_WATCH": "0", "AUTOGRADE_ON_SUBMIT": "course-v1-sbx-auto-2026"}
    https_variables = set()

    def write_settings(self, settings):
        with open(self.env_file, "w") as f:
            f.writelines(f"{name}={value}\n" for name, value in {**self.base_settings, **settings}.items())

    def reconfigure(self, settings, https=None):
        """Restart the hub with these hub.env settings (and the HTTPS proxy: a dict of its
        compose variables, e.g. DOMAIN), as an admin would; waits until it is healthy."""
        self.write_settings(settings)
        self.profiles = ["--profile", "https"] if https else []
        for name in self.https_variables - set(https or {}):
            self.env.pop(name, None)  # back to plain HTTP: DOMAIN and the like must go too
        self.https_variables = set(https or {})
        self.env.update(https or {})
        self.compose("up", "-d", "--build")
        self.wait_healthy()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args, check=True, input=None, timeout=900):
        files = [option for name in self.files for option in ("-f", os.path.join(REPO, name))]
        command = ["docker", "compose", "-p", self.project, *files, *self.profiles, *args]
        return commands.run(command, error=AssertionError, check=check, timeout=timeout, env=self.env, cwd=REPO,
                            input=input)

    def exec(self, *command, user=None, check=True, input=None):
        """Run a command in the hub container (as root, or as `user` via runuser)."""
        if user:
            command = ("runuser", "-u", user, "--", *command)
        return self.compose("exec", "-T", "hub", *command, check=check, input=input)

    def write_accounts(self, text):
        with open(self.accounts_path, "w") as f:
            f.write(text)

    def sync(self, check=True):
        return self.exec("hubsetup", "accounts", "sync", check=check)

    def wait_healthy(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/hub/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(1)
        raise AssertionError(f"hub not healthy after {timeout}s:\n{self.logs()}")

    def logs(self, since=None):
        """The hub's log: its last 300 lines, or all of it from `since` (an RFC 3339 time) on."""
        window = ["--since", since] if since else ["--tail", "300"]
        return self.compose("logs", "--no-color", *window, check=False).stdout

    def take_down(self):
        """`down -v`, then what the hub made outside compose (per-user containers and home
        volumes), which `down` leaves behind."""
        self.compose("down", "-v", "--remove-orphans", check=False)
        engine = docker.from_env()
        for container in engine.containers.list(all=True, sparse=True, filters={"name": f"{self.project}-user-"}):
            container.remove(force=True)
        for volume in engine.volumes.list(filters={"label": f"org.teaching-hub.home-in={self.project}_jh_home"}):
            volume.remove(force=True)

    def uid_of(self, login):
        return int(self.exec("id", "-u", login).stdout)

    def groups_of(self, login):
        return set(self.exec("id", "-nG", login).stdout.split())

    def system_snapshot(self):
        """Users, homes, courses and registry rows: what a refused launch must leave alone."""
        return self.exec("sh", "-c", "cat /etc/passwd /etc/group; ls -A /home /srv/nbgrader/courses "
                         "/srv/nbgrader/exchange; python3 -c \"import sqlite3; db = sqlite3.connect("
                         "'/srv/jupyterhub/state/registry.sqlite'); print([db.execute('SELECT count(*) FROM ' + t)"
                         ".fetchone() for t in ('users', 'memberships', 'courses', 'lti_identities', 'launches')])\"").stdout


class HubClient(requests.Session):
    """A user's browser: the login form (with its XSRF field), spawning and their server."""

    def __init__(self, stack, login):
        super().__init__()
        self.stack, self.login = stack, login

    def xsrf(self):
        return self.cookies.get("_xsrf", path="/hub/") or self.cookies.get("_xsrf")

    def log_in(self, password):
        """True if the hub accepted the password."""
        self.get(self.stack.url + "/hub/login")
        response = self.post(
            self.stack.url + "/hub/login?next=",
            data={"username": self.login, "password": password, "_xsrf": self.xsrf()},
            allow_redirects=False,
        )
        return response.status_code == 302

    def start_server(self, timeout=120, course=None):
        """Spawn (or reuse) the user's server; returns JupyterLab's page config.

        A teacher of several courses gets the course picker first: `course`, or the
        preselected one, is submitted."""
        spawn = self.stack.url + f"/hub/spawn/{self.login}"
        page = self.get(spawn)
        if 'name="course"' in page.text:
            chosen = course or re.search(r'<option value="([^"]+)" selected', page.text).group(1)
            self.post(spawn, data={"course": chosen, "_xsrf": self.xsrf()})
        page = self.wait_for_page(f"/user/{self.login}/lab", timeout=timeout)
        return json.loads(CONFIG_DATA.search(page.text).group(1))

    def wait_for_page(self, path, start=None, timeout=120):
        """GET `start` (default `path`) until the redirects end on `path` with a 200: the hub
        answers with its spawn-pending page while the server starts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.get(self.stack.url + (start or path))
            if page.status_code == 200 and page.url.startswith(self.stack.url + path):
                return page
            time.sleep(1)
        raise AssertionError(f"{path} not ready after {timeout}s (last: {page.status_code} {page.url})")

    def launch(self, params):
        """POST an LTI launch form, as the LMS page in the browser does."""
        return self.post(self.stack.url + "/hub/lti/launch", data=params, allow_redirects=False)

    def server_api(self, method, path, **kwargs):
        """Call the user's own server (after start_server), as JupyterLab does."""
        headers = {"X-XSRFToken": self.cookies.get("_xsrf", path=f"/user/{self.login}/") or "",
                   **kwargs.pop("headers", {})}
        url = f"{self.stack.url}/user/{self.login}/{path.lstrip('/')}"
        return self.request(method, url, headers=headers, **kwargs)

    def stop_server(self):
        url = f"{self.stack.url}/hub/api/users/{self.login}/server"
        return self.delete(url, headers={"X-XSRFToken": self.xsrf() or "", "Referer": self.stack.url + "/hub/home"})


def run(*command, env=None, check=True):
    return commands.run(list(command), error=AssertionError, check=check, env=env)


def container_log_bytes(container_id):
    """Bytes of a container's json-file log on this host, rotated files included."""
    path = run("docker", "inspect", "-f", "{{.LogPath}}", container_id).stdout.strip()
    return sum(os.path.getsize(name) for name in glob.glob(glob.escape(path) + "*"))


REGISTRY = "/srv/jupyterhub/state/registry.sqlite"


def registry_rows(stack, query, *parameters):
    """The rows of a query of the hub's registry, as Python's repr of a list of tuples."""
    return stack.exec("/opt/venv/bin/python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
                      ".execute(sys.argv[2], sys.argv[3:]).fetchall())", REGISTRY, query, *parameters).stdout.strip()


def wait_until(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"{what} after {timeout}s")


class SwarmHub(Stack):
    """docker-stack.yml deployed as a stack; `exec` runs in the hub's task container."""

    def deploy(self):
        run("docker", "stack", "deploy", "-c", os.path.join(REPO, "docker-stack.yml"), self.project, env=self.env)

    def hub_container(self):
        found = docker.from_env().containers.list(filters={"label": f"com.docker.swarm.service.name={self.project}_hub"})
        return found[0] if found else None

    def exec(self, *command, user=None, check=True, input=None):
        return run("docker", "exec", self.hub_container().id, *command, check=check)

    def logs(self):
        logs = run("docker", "service", "logs", "--tail", "300", f"{self.project}_hub", check=False)
        return logs.stdout + logs.stderr  # the hub logs to stderr, and service logs keeps them apart

    def remove(self):
        """Users' services first (they are the hub's, not the stack's, and hold its network),
        then the stack, its networks and its volumes."""
        engine = docker.from_env()
        for service in engine.services.list(filters={"name": f"{self.project}-user-"}):
            service.remove()
        # sparse: no inspect of each, which fails for a container removed meanwhile
        wait_until(lambda: not engine.containers.list(all=True, sparse=True, filters={"name": f"{self.project}-user-"}),
                   "users' containers still there")
        run("docker", "stack", "rm", self.project, check=False)
        wait_until(lambda: not engine.containers.list(all=True, sparse=True,
                                                      filters={"label": f"com.docker.stack.namespace={self.project}"}),
                   "stack containers still there")
        wait_until(lambda: not engine.networks.list(names=[f"{self.project}_users", f"{self.project}_default"]),
                   "stack networks still there")
        for volume in engine.volumes.list(filters={"name": self.project}):
            volume.remove(force=True)
