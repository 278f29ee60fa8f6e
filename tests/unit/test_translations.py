"""README's translations keep README.md's commands and setting names (scripts/check-translations)."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(REPO, "scripts", "check-translations")


def test_every_translation_uses_only_readmes_commands_and_settings():
    result = subprocess.run([sys.executable, CHECK], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    for name in ("README.zh-CN.md", "README.fr.md"):
        assert os.path.exists(os.path.join(REPO, name))


def test_a_command_or_setting_that_drifted_is_named_with_its_line(tmp_path):
    drifted = tmp_path / "README.xx.md"
    drifted.write_text("[English](README.md)\n\n```sh\ndocker compose exec hub hubsetup accounts synch\n```\n"
                       "Réglez `ACCOUNT_DIR`.\n", encoding="utf-8")
    result = subprocess.run([sys.executable, CHECK, str(drifted)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "README.xx.md:4: command not in README.md: docker compose exec hub hubsetup accounts synch" in result.stdout
    assert "README.xx.md:6: 'ACCOUNT_DIR' is not in README.md" in result.stdout
