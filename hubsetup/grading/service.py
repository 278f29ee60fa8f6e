"""The `grading` JupyterHub service (`hubsetup grading serve`): the broker, with the sandbox of
the hub's mode, the watcher that grades submissions on arrival when a course wants it, and the
page that tells users where their submissions are."""

import logging
import os
import threading

from .. import modes
from . import broker


def sandbox_for(settings):
    if modes.of(settings).servers_apart:
        from .sandbox_container import ContainerSandbox

        return ContainerSandbox(settings)
    from .sandbox_local import LocalSandbox

    return LocalSandbox(settings)


def run(settings):
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s grading] %(message)s")
    if settings.autograde_on_submit.strip():
        from . import on_submit

        threading.Thread(target=on_submit.watch, args=(settings,), daemon=True, name="on-submit").start()
    if os.environ.get("JUPYTERHUB_SERVICE_URL"):  # not when run by hand, outside the hub
        from . import status

        status.serve_in_background(settings)
    broker.serve(settings, sandbox_for(settings))
