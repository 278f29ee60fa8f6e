"""A scratch /etc, homes and state for tests that sync and provision for real (as root: they
chown). The system files are copies in a temporary folder, so the host's users are never
touched; the real PAM check of these passwords happens in the integration tests."""

import pytest

from hubsetup.lti.launch import Launch, apply_launch
from hubsetup.person_names import PersonName
from hubsetup.settings import Settings
from hubsetup.sync import sync_accounts

BASE_ETC = {
    "passwd": "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
    "group": "root:x:0:\nwww-data:x:33:\n",
    "shadow": "root:*:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\n",
    "gshadow": "root:*::\nwww-data:*::\n",
}


@pytest.fixture
def site(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    for name, text in BASE_ETC.items():
        (etc / name).write_text(text)
    (tmp_path / "home").mkdir()
    settings = Settings.from_env(
        env={},
        accounts_file=str(tmp_path / "accounts.csv"),
        state_dir=str(tmp_path / "state"),
        home_root=str(tmp_path / "home"),
        courses_root=str(tmp_path / "courses"),
        exchange_root=str(tmp_path / "exchange"),
    )

    class Site:
        def __init__(self):
            self.settings, self.etc, self.tmp = settings, etc, tmp_path
            self.base_etc = BASE_ETC

        def sync(self, text=None, **kwargs):
            if text is not None:
                (tmp_path / "accounts.csv").write_text(text)
            return sync_accounts(settings, etc=str(etc), **kwargs)

        def table(self, name):
            lines = (etc / name).read_text().splitlines()
            return {line.split(":")[0]: line.split(":") for line in lines}

        def shadow_hash(self, login):
            return self.table("shadow")[login][1]

        def launch_in(self, lti_user, context_id, consumer="key", instructor=False, assignment="", name="",
                      anonymous_id=""):
            """(login, course) of an LTI launch, verified (the signature is lti11_validator's)."""
            launch = Launch(consumer, lti_user, context_id, instructor, "block-1", assignment=assignment,
                            anonymous_id=anonymous_id, name=PersonName(full=name))
            return apply_launch(self.settings, launch, etc=str(etc))

        def launch_as(self, lti_user, course="course-v1-x", instructor=False):
            return self.launch_in(lti_user, course, instructor=instructor, assignment="ps1")[0]

    return Site()
