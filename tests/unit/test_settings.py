"""Settings: the README's table is the generated one; the sample file matches the warning."""

import os
import re

import pytest

from hubsetup import accounts
from hubsetup.settings import Settings, declared, markdown_table

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


@pytest.mark.parametrize("value", ["1 GB", "lots", "-1G", ""])
def test_a_bad_memory_limit_names_the_setting(value):
    with pytest.raises(SystemExit, match=f"USER_MEM_LIMIT='{value}': give a size like 512M or 2G"):
        Settings.from_env({"USER_MEM_LIMIT": value}).check()


@pytest.mark.parametrize("variable, value, message", [
    ("USER_CPU_LIMIT", "0", "USER_CPU_LIMIT=0: must be more than 0"),
    ("SPAWNER", "kubernetes", "SPAWNER='kubernetes': must be one of local, docker, swarm"),
    ("LMS_ORIGINS", "https://x.org/path", "LMS_ORIGINS: 'https://x.org/path' is not an origin"),
])
def test_every_checked_setting_is_checked_at_start(variable, value, message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        Settings.from_env({variable: value}).check()


def test_each_variable_is_declared_once_and_read_as_its_type():
    names = [variable for _, _, variable, _, _ in declared()]
    assert len(names) == len(set(names))
    assert Settings.from_env({}).accounts_watch == 2 and Settings.from_env({}).user_cpu_limit == 1.0
