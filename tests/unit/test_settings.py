"""Settings: the README's table is the generated one; the sample file matches the warning."""

import os

from hubsetup import accounts
from hubsetup.settings import Settings, markdown_table

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_readme_settings_table_is_up_to_date():
    readme = open(os.path.join(REPO, "README.md")).read()
    assert markdown_table() in readme, "run scripts/readme-settings"


def test_sample_passwords_are_those_of_the_sample_file():
    rows = accounts.load(os.path.join(REPO, "accounts.csv"))
    assert {a.login: a.password for a in rows} == accounts.SAMPLE_PASSWORDS
    assert accounts.sample_password_logins(rows) == ["prof1", "eleve1", "eleve2"]


def test_bad_number_setting_names_the_variable():
    try:
        Settings.from_env({"IDLE_TIMEOUT": "an hour"})
    except SystemExit as error:
        assert "IDLE_TIMEOUT" in str(error)
    else:
        raise AssertionError("accepted a non-number")
