"""Settings of every user server (loaded from /etc/jupyter/jupyter_server_config.py)."""

import os


def frame_ancestors(env):
    """Who may frame a user server: itself (JupyterLab shows the formgrader in an iframe) and
    the LMS origins the admin listed in LMS_ORIGINS."""
    return " ".join(["'self'", *env.get("LMS_ORIGINS", "").split()])


def configure(c, env=None):
    env = os.environ if env is None else env
    c.ServerApp.tornado_settings = {
        "headers": {"Content-Security-Policy": f"frame-ancestors {frame_ancestors(env)}"}
    }
