"""Consumer keys and secrets in the state volume, and edX passports."""

import pytest

from hubsetup.lti import consumers


def test_passport_and_consumers_file(tmp_path):
    key, secret = consumers.new_consumer(str(tmp_path))
    assert consumers.load_consumers(str(tmp_path)) == {key: secret}
    assert consumers.passport("jupyter01", key, secret) == f"jupyter01:{key}:{secret}"
    assert (tmp_path / consumers.CONSUMERS_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="':'"):
        consumers.passport("a:b", key, secret)
    assert consumers.all_consumers(str(tmp_path), {"env": "s"}) == {key: secret, "env": "s"}
