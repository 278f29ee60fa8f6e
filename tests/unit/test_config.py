"""What hubsetup hands JupyterHub (jupyterhub_config.py's config.apply), read without a hub."""

import pytest
from traitlets.config import Config

from hubsetup import config
from hubsetup.settings import Settings


def applied(**env):
    c = Config()
    config.apply(c, Settings.from_env(env))
    return c


def test_local_mode_runs_servers_as_processes_beside_a_hub_on_loopback():
    c = applied()
    assert c.JupyterHub.spawner_class == "hubsetup.spawner.HubSpawner"
    assert c.JupyterHub.hub_ip == "127.0.0.1" and "hub_connect_ip" not in c.JupyterHub
    assert c.HubSpawner.process_limit == 512
    assert c.Spawner.environment["NBGRADER_EXCHANGE"] == "/srv/nbgrader/exchange"


def test_only_the_lms_origins_may_frame_the_hub_and_cookies_follow():
    c = applied(LMS_ORIGINS="https://courses.example.org")
    assert c.JupyterHub.tornado_settings["headers"]["Content-Security-Policy"] == \
        "frame-ancestors 'self' https://courses.example.org"
    assert c.JupyterHub.tornado_settings["cookie_options"] == {"samesite": "None", "secure": True}
    plain = applied()
    assert "cookie_options" not in plain.JupyterHub.tornado_settings
    assert applied(HTTPS_DOMAIN="hub.school.edu").JupyterHub.tornado_settings["xsrf_cookie_kwargs"] == {"secure": True}


def test_services_run_with_the_settings_they_need_and_only_the_culler_has_a_role(monkeypatch):
    env = {"ACCOUNTS_WATCH": "5", "GRADES_AUTO_PUSH": "60", "LTI_KEY": "k", "LTI_SECRET": "s", "IDLE_TIMEOUT": "600"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the hub's own environment, which services do not inherit
    c = applied(**env)
    services = {service["name"]: service for service in c.JupyterHub.services}
    assert set(services) == {"accounts-watch", "grades-autopush", "grading", "idle-culler"}
    assert "--interval=5" in services["accounts-watch"]["command"]
    assert services["grading"]["command"][-2:] == ["grading", "serve"]
    assert services["grades-autopush"]["environment"]["LTI_KEY"] == "k"
    assert "--cull-every=300" in services["idle-culler"]["command"]
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    assert roles["idle-culler"]["services"] == ["idle-culler"] and "delete:servers" in roles["idle-culler"]["scopes"]
    quiet = applied(ACCOUNTS_WATCH="0", IDLE_TIMEOUT="0")
    assert [service["name"] for service in quiet.JupyterHub.services] == ["grading"]  # every autograde needs it


def test_a_wrong_setting_stops_the_configuration_before_any_of_it_applies():
    c = Config()
    with pytest.raises(SystemExit, match="LOG_MAX_SIZE='big'"):
        config.apply(c, Settings.from_env({"LOG_MAX_SIZE": "big"}))
    assert "JupyterHub" not in c
