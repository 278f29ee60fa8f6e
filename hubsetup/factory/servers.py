"""The server factory: a root process of the hub's container that imports once what every user's
server imports at its start, then forks each user's server from itself
(`python -m hubsetup.factory.servers`, started by `hubsetup start`; see factory.keeper).

Only root may ask (the socket is root's, and the asker's credentials are checked). The factory
never reads the state volume and is started with a bare environment: it holds no secret a
server could inherit. A forked server is set up by the process spawner's own `become_user`.
"""

import importlib
import json
import locale
import os
import sys

from . import forking

#: What a server imports at its start besides its extensions and their applications (each
#: enabled server extension is imported too, and the server's own handlers): found by listing
#: what a forked server had imported a minute after its start that the factory had not.
PRELOADED = (
    "jupyterhub.singleuser",
    "jupyter_server.serverapp",
    "jupyter_client.provisioning",
    "ipykernel.kernelspec",  # the kernelspec manager's native kernel
    "IPython",  # what listing the kernelspecs imports
    "hubsetup.factory.kernel_provisioner",
    "hubsetup.singleuser",
    "hubsetup.nbgrader_setup",
    "hubsetup.exchange",
    "hubsetup.grading.client",
    "jupyterlab_server.process",
    "jupyter_lsp.virtual_documents_shadow",
    "jupyter_core.migrate",
    "tornado.platform.asyncio",
    "jinja2.ext",
    "async_lru",
    "codeop",
    "xmlrpc.client",
)
EXTENSION_CONFIG = ("/opt/venv/etc/jupyter/jupyter_server_config.d", "/etc/jupyter/jupyter_server_config.d")
LIMITS = ("umask", "process_limit", "oom_score_adj")


def enabled_extensions(folders=EXTENSION_CONFIG):
    names = []
    for folder in folders:
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
            with open(os.path.join(folder, entry)) as f:
                extensions = json.load(f).get("ServerApp", {}).get("jpserver_extensions", {})
            names += [name for name, enabled in extensions.items() if enabled]
    return names


def preload():
    for name in (*PRELOADED, *enabled_extensions()):
        try:
            module = importlib.import_module(name)
            # Its entry points name its application class, which the module imports lazily.
            getattr(module, "_jupyter_server_extension_points", list)()
        except Exception as e:  # a server imports it itself then, and says what is wrong
            print(f"server factory: not pre-imported: {name} ({e})", file=sys.stderr)
    from jupyter_server.serverapp import JUPYTER_SERVICE_HANDLERS

    for handlers in JUPYTER_SERVICE_HANDLERS.values():
        for name in handlers or ():
            importlib.import_module(name)


def take_up(env):
    """In a forked server: the user's environment, and what pre-imported modules took from the
    factory's at their import taken again from it."""
    forking.take_up_environment(env)
    # The user's trash (JupyterHub's servers do not use it, but a server extension could).
    if "send2trash.plat_other" in sys.modules:
        importlib.reload(sys.modules["send2trash.plat_other"])
    # JupyterLab's default language is the locale's.
    translations = sys.modules.get("jupyterlab_server.translation_utils")
    if translations is not None:
        language = locale.getlocale()[0] or translations.DEFAULT_LOCALE
        translations.translator._LOCALE = language
        for name in ("translation_utils", "settings_utils", "translations_handler"):
            module = sys.modules.get(f"jupyterlab_server.{name}")
            if module is not None:
                module.SYS_LOCALE = language
    # The server's side of the hub's login (`HubOAuth(parent=...)` with nothing else: "HubAuth gets
    # most of its config from the environment", as class defaults, at its import): where its
    # cookie is valid (only below the user's own prefix), the hub's API, the TLS files.
    auth = sys.modules.get("jupyterhub.services.auth")
    if auth is not None:
        for name, variable, otherwise in (("base_url", "JUPYTERHUB_SERVICE_PREFIX", "/"),
                                          ("api_url", "JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"),
                                          ("keyfile", "JUPYTERHUB_SSL_KEYFILE", ""),
                                          ("certfile", "JUPYTERHUB_SSL_CERTFILE", ""),
                                          ("client_ca", "JUPYTERHUB_SSL_CLIENT_CA", "")):
            forking.set_class_default(auth.HubAuth, name, os.environ.get(variable) or otherwise)
    # Where JupyterLab keeps the user's settings and workspaces: below their home.
    labapp = sys.modules.get("jupyterlab.labapp")
    if labapp is not None:
        forking.set_class_default(labapp.LabApp, "user_settings_dir", labapp.get_user_settings_dir())
        forking.set_class_default(labapp.LabApp, "workspaces_dir", labapp.get_workspaces_dir())


def only_root(pid, uid, gid):
    return None if uid == 0 else "only the hub starts servers"


def request_of(request):
    argv = forking.only_strings(request.get("argv"), "argv")
    env = forking.string_map(request.get("env"), "env")
    user = request.get("user")
    if not isinstance(user, str) or not user:
        raise forking.Refused("user: a login")
    limits = request.get("limits")
    if not (isinstance(limits, dict) and sorted(limits) == sorted(LIMITS)
            and all(type(v) is int for v in limits.values())):
        raise forking.Refused(f"limits: {', '.join(LIMITS)}, integers")
    return user, argv, env, limits


def serve(peer, connection):
    """In the forked child: read the hub's request, become the user, answer with our pid, shed
    everything of the factory, then run what `jupyterhub-singleuser` runs."""
    user, argv, env, limits = request_of(forking.read_request(connection))
    try:
        forking.become_user(user, **limits)
        forking.make_dumpable()
    except Exception as e:
        forking.reply(connection, error=f"could not become {user}: {e}")
        return 1
    forking.reply(connection, pid=os.getpid())
    forking.in_child_shed([connection])
    forking.reset_signals()
    forking.show_as(argv)
    take_up(env)
    sys.argv = list(argv)
    from jupyterhub.singleuser import main

    return main()


def main():
    forking.only_one(forking.SERVER_SOCKET)
    preload()
    forking.share_preloaded()
    forking.Factory(forking.SERVER_SOCKET, 0o600, only_root, serve).run()


if __name__ == "__main__":
    main()
