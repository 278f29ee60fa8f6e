"""Settings: the README's table is the generated one; the sample file matches the warning."""

import os

import pytest

from hubsetup import accounts
from hubsetup.settings import Settings, markdown_table

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_readme_settings_table_is_up_to_date():
    readme = open(os.path.join(REPO, "README.md")).read()
    assert markdown_table() in readme, "run scripts/readme-settings"


def test_sample_passwords_are_those_of_the_sample_file():
    rows, _ = accounts.load(os.path.join(REPO, "accounts.csv"))
    assert {a.login: a.password for a in rows} == accounts.SAMPLE_PASSWORDS
    assert accounts.sample_password_logins(rows) == ["prof1", "eleve1", "eleve2"]


def test_bad_number_setting_names_the_variable():
    try:
        Settings.from_env({"IDLE_TIMEOUT": "an hour"})
    except SystemExit as error:
        assert "IDLE_TIMEOUT" in str(error)
    else:
        raise AssertionError("accepted a non-number")


def test_a_replaced_variable_is_refused_with_what_to_do_instead():
    with pytest.raises(SystemExit, match="ACCOUNTS_DIR"):
        Settings.from_env({"ACCOUNTS_CSV": "/srv/school/accounts.csv"})
    Settings.from_env({"ACCOUNTS_CSV": ""})  # compose passes it empty when unset


def test_services_get_the_settings_of_the_hubs_environment():
    from hubsetup.settings import environment

    assert environment({"LTI_KEY": "k", "LTI_SECRET": "s", "HOME": "/root"}) == {"LTI_KEY": "k", "LTI_SECRET": "s"}


@pytest.mark.parametrize("text, size", [("500M", 500 * 2**20), ("2G", 2 * 2**30), ("1.5 GB", 3 * 2**29), ("0", 0)])
def test_sizes_are_read_in_binary_units(text, size):
    assert Settings.from_env({"USER_DISK_WARNING": text}).disk_warning_bytes == size


@pytest.mark.parametrize("variable, value", [("USER_DISK_WARNING", "lots"), ("LOG_MAX_SIZE", "10 MB"), ("LOG_MAX_SIZE", "10M")])
def test_a_bad_size_stops_the_hub_naming_the_setting(variable, value):
    with pytest.raises(SystemExit, match=f"{variable}='{value}': give a size like"):
        Settings.from_env({variable: value}).check()
