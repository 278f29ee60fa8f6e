"""LTI 1.1 signatures, timestamps and nonces: nothing is remembered for an unsigned launch."""

import time

import pytest

from hubsetup.lti import lti11_validator
from hubsetup.lti.rules import LaunchError

from harness import edx

URL = "https://hub.school.edu/hub/lti/launch"
CONSUMERS = {"key": "secret"}


def signed(**kwargs):
    return edx.launch_params(URL, "key", "secret", **kwargs)


def test_a_signed_launch_passes_once():
    nonces = lti11_validator.NonceMemory()
    launch = signed()
    assert lti11_validator.verify(URL, launch, CONSUMERS, nonces) == "key"
    with pytest.raises(LaunchError, match="already used") as error:
        lti11_validator.verify(URL, launch, CONSUMERS, nonces)
    assert error.value.status == 401


@pytest.mark.parametrize("change,status", [
    ({"oauth_signature": "forged"}, 401), ({"roles": "Instructor"}, 401), ({"oauth_consumer_key": "other"}, 401),
    ({"oauth_signature_method": "PLAINTEXT"}, 401), ({"oauth_nonce": ""}, 400),
])
def test_unsigned_or_altered_launches_are_refused_and_remembered_nowhere(change, status):
    nonces = lti11_validator.NonceMemory()
    with pytest.raises(LaunchError) as error:
        lti11_validator.verify(URL, dict(signed(), **change), CONSUMERS, nonces)
    assert error.value.status == status and len(nonces) == 0


def test_a_flood_of_unsigned_launches_leaves_the_memory_empty():
    nonces = lti11_validator.NonceMemory(capacity=10)
    for n in range(1000):
        with pytest.raises(LaunchError):
            lti11_validator.verify(URL, dict(signed(), oauth_nonce=f"junk{n}", oauth_signature="x"), CONSUMERS, nonces)
    assert len(nonces) == 0
    assert lti11_validator.verify(URL, signed(), CONSUMERS, nonces) == "key"


@pytest.mark.parametrize("offset", [-31, 31])
def test_timestamps_outside_the_window_are_refused(offset):
    with pytest.raises(LaunchError, match="clock"):
        lti11_validator.verify(URL, signed(timestamp=int(time.time()) + offset), CONSUMERS,
                               lti11_validator.NonceMemory())


def test_one_consumer_cannot_fill_the_memory_for_the_others():
    nonces = lti11_validator.NonceMemory(capacity=10, per_consumer=2)
    nonces.use("leaked", 1_800_000_000, "a")
    nonces.use("leaked", 1_800_000_000, "b")
    with pytest.raises(LaunchError) as error:
        nonces.use("leaked", 1_800_000_000, "c")
    assert error.value.status == 503
    nonces.use("other-team", 1_800_000_000, "a")


def test_a_full_memory_refuses_rather_than_forgets_and_empties_as_the_window_passes():
    now = [1_800_000_000.0]
    nonces = lti11_validator.NonceMemory(capacity=2, clock=lambda: now[0], per_consumer=2)
    nonces.use("key", 1_800_000_000, "a")
    nonces.use("key", 1_800_000_000, "b")
    with pytest.raises(LaunchError) as error:
        nonces.use("key", 1_800_000_000, "c")
    assert error.value.status == 503
    with pytest.raises(LaunchError, match="already used"):
        nonces.use("key", 1_800_000_000, "a")
    now[0] += lti11_validator.WINDOW + 2
    nonces.use("key", 1_800_000_032, "c")
    assert len(nonces) == 1
