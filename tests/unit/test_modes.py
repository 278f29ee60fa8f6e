"""The table of modes: each mode's hooks exist, and the local mode needs none (nor Docker)."""

import importlib
import sys

import pytest

from hubsetup import modes
from hubsetup.settings import Settings

HOOKS = ("configure", "remove_storage", "status_lines")


@pytest.mark.parametrize("mode", [m for m in modes.MODES.values() if m.hooks])
def test_a_mode_with_hooks_has_all_three(mode):
    module = importlib.import_module(mode.hooks)
    assert all(callable(getattr(module, hook)) for hook in HOOKS)
    assert mode.servers_apart


def test_the_local_mode_calls_nothing_and_loads_no_docker_client():
    local = modes.of(Settings.from_env({}))
    sys.modules.pop("hubsetup.container_mode", None)
    assert [local.call(hook, None, None) for hook in HOOKS] == [None, None, None]
    assert "hubsetup.container_mode" not in sys.modules
    assert not local.servers_apart and local.spawner_class == "hubsetup.spawner.HubSpawner"
