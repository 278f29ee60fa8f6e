"""LTI 1.3 launches: registrations, the login's state and nonce, and the id_token battery,
against a platform of our own (harness/lti13_platform.py) whose keyset a real HTTP server on
this machine's loopback serves."""

import json
import os
import time

import jwt
import pytest

from harness.lti13_platform import CLAIM, INSTRUCTOR, Platform, serve_platform
from hubsetup.lti import lti13, lti13_keys, lti13_platforms, lti13_validator
from hubsetup.lti.rules import LaunchError

HOST = "hub.school.edu"
LAUNCH_URL = f"https://{HOST}/hub/lti13/launch"
KEYSET_PORT = 19_871


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    folder = tmp_path_factory.mktemp("platform")
    platform = Platform("https://lms.example.org", port=KEYSET_PORT)
    platform.keyset_file = str(folder / "jwks.json")
    platform.publish = lambda: open(platform.keyset_file, "w").write(json.dumps(platform.keyset()))  # noqa: E731
    platform.publish()
    server = serve_platform(KEYSET_PORT, platform.keyset_file)
    yield platform
    server.shutdown()


@pytest.fixture
def hub(platform, tmp_path):
    """The hub's side: the platform registered, its states and keysets."""
    registration = lti13_platforms.Platform(platform.issuer, platform.client_id, [platform.deployment_id],
                                            platform.keyset_url, platform.login_url, platform.token_url)
    lti13_platforms.add_platform(str(tmp_path), registration)

    class Hub:
        state_dir = str(tmp_path)
        states, keysets = lti13_validator.LoginStates(), lti13_validator.Keysets()

        def platforms(self):
            return lti13_platforms.load_platforms(self.state_dir)

        def begin(self, **extra):
            """The login initiation answered: (auth request's parameters, its URL)."""
            url = lti13.authentication_request(platform.login(LAUNCH_URL, **extra), self.platforms(), self.states,
                                               LAUNCH_URL, HOST)
            return platform.auth_request(url), url

        def launch(self, token, state):
            """As the hub's launch handler: the state taken, then every check."""
            login = self.states.take(state)
            found = lti13.platform_of(self.platforms(), lti13_validator.unverified(token)[1].get("iss"),
                                      login.client_id)
            return lti13_validator.verify_id_token(token, found, login, self.keysets)

    return Hub()


def test_a_login_is_answered_with_the_platforms_authentication_request(hub, platform):
    request, url = hub.begin(lti_message_hint="msg-1")
    assert url.startswith(platform.login_url + "?")
    assert {k: request[k] for k in ("scope", "response_type", "response_mode", "prompt", "client_id", "redirect_uri",
                                    "login_hint", "lti_message_hint")} == {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
        "client_id": platform.client_id, "redirect_uri": LAUNCH_URL, "login_hint": "hint-1",
        "lti_message_hint": "msg-1"}
    assert len(request["state"]) >= 40 and len(request["nonce"]) >= 40 and request["state"] != request["nonce"]


@pytest.mark.parametrize("change, status, reason", [
    ({"iss": ""}, 400, "missing iss"),
    ({"login_hint": ""}, 400, "missing login_hint"),
    ({"iss": "https://other.example.org"}, 401, "no LTI 1.3 registration"),
    ({"client_id": "someone-else"}, 401, "no LTI 1.3 registration"),
    ({"lti_deployment_id": "99"}, 401, "deployment '99' is not registered"),
    ({"target_link_uri": "https://evil.example.com/hub/lti13/launch"}, 400, "not on this hub"),
])
def test_a_bad_login_is_refused_and_begins_nothing(hub, platform, change, status, reason):
    with pytest.raises(LaunchError, match=reason) as error:
        lti13.authentication_request({**platform.login(LAUNCH_URL), **change}, hub.platforms(), hub.states,
                                     LAUNCH_URL, HOST)
    assert error.value.status == status and hub.states.states == {}


def test_a_signed_launch_makes_a_launch_of_the_platforms_own_user(hub, platform):
    request, _ = hub.begin()
    claims = platform.claims(request["nonce"], sub="a1b2c3", roles=[INSTRUCTOR], preferred_username="marie.curie",
                             name="Marie Curie", given_name="Marie", family_name="Curie", custom={"assignment": "ps1"})
    verified = hub.launch(platform.id_token(claims), request["state"])
    launch = lti13.launch_of(verified, hub.platforms()[(platform.issuer, platform.client_id)])
    assert (launch.lti_user, launch.login_source, launch.instructor, launch.context_id, launch.assignment,
            launch.protocol) == ("a1b2c3", "marie.curie", True, "course-v1:DemoX+LTI13+2026", "ps1", "lti13")
    assert launch.consumer_key == f"lti13|{platform.issuer}|{platform.client_id}"
    assert launch.name.full == "Marie Curie"
    assert lti13.target_args(verified) == {"custom_assignment": "ps1"}


def other_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(platform):
    from cryptography.hazmat.primitives import serialization

    return platform.keys[platform.kid].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def hs256_with_public_key(platform, claims):
    """The old confusion attack: an HMAC keyed with the public key (pyjwt refuses to make one)."""
    import base64
    import hashlib
    import hmac

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': platform.kid})}.{part(claims)}"
    mac = hmac.new(public_pem(platform), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


BATTERY = {
    # name: (how the token is made from (platform, claims), status, what the refusal says)
    "signed with another key": (lambda p, c: p.id_token(c, key=other_key()), 401, "Signature verification failed"),
    "a key id the keyset lacks": (lambda p, c: p.id_token(c, kid="nobody", key=other_key()), 401, "no key"),
    "unsigned, alg none": (lambda p, c: jwt.encode(c, None, algorithm="none", headers={"kid": p.kid}), 401,
                           "signed with 'none'"),
    "HS256 with the public key as secret": (lambda p, c: hs256_with_public_key(p, c), 401, "signed with 'HS256'"),
    "wrong issuer": (lambda p, c: p.id_token({**c, "iss": "https://evil.example.com"}), 401, "no LTI 1.3 registration"),
    "wrong audience": (lambda p, c: p.id_token({**c, "aud": "another-tool"}), 401, "Audience doesn't match"),
    "two audiences, azp another": (lambda p, c: p.id_token({**c, "aud": [p.client_id, "x"], "azp": "x"}), 401, "azp"),
    "wrong deployment": (lambda p, c: p.id_token({**c, CLAIM + "deployment_id": "2"}), 401, "deployment '2'"),
    "expired": (lambda p, c: p.id_token({**c, "exp": int(time.time()) - 120}), 401, "expired"),
    "issued long ago": (lambda p, c: p.id_token({**c, "iat": int(time.time()) - 3600}), 401, "not within 600 s"),
    "issued in the future": (lambda p, c: p.id_token({**c, "iat": int(time.time()) + 3600}), 401, "not yet valid"),
    "another login's nonce": (lambda p, c: p.id_token({**c, "nonce": "forged"}), 401, "nonce is not the one"),
    "no nonce": (lambda p, c: p.id_token({k: v for k, v in c.items() if k != "nonce"}), 401, "nonce"),
    "LTI 1.2 version": (lambda p, c: p.id_token({**c, CLAIM + "version": "1.2.0"}), 400, "not 1.3.0"),
    "Deep Linking (not yet)": (lambda p, c: p.id_token({**c, CLAIM + "message_type": "LtiDeepLinkingRequest"}), 400,
                               "Deep Linking"),
    "another message type": (lambda p, c: p.id_token({**c, CLAIM + "message_type": "LtiSubmissionReview"}), 400,
                             "message type"),
    "no resource link": (lambda p, c: p.id_token({**c, CLAIM + "resource_link": None}), 400, "resource_link"),
    "anonymous (no sub)": (lambda p, c: p.id_token({k: v for k, v in c.items() if k != "sub"}), 400, "sub"),
    "not a JWT": (lambda p, c: "not.a.jwt", 400, "not a JWT"),
}


@pytest.mark.parametrize("attack", sorted(BATTERY))
def test_the_battery_of_bad_launches_is_refused_with_the_reason(hub, platform, attack):
    make, status, reason = BATTERY[attack]
    request, _ = hub.begin()
    claims = {k: v for k, v in platform.claims(request["nonce"]).items() if v is not None}
    with pytest.raises(LaunchError, match=reason) as error:
        hub.launch(make(platform, claims), request["state"])
    assert error.value.status == status, error.value


def test_a_launch_is_taken_once_and_only_with_a_state_the_hub_gave(hub, platform):
    request, _ = hub.begin()
    token = platform.id_token(platform.claims(request["nonce"]))
    hub.launch(token, request["state"])
    with pytest.raises(LaunchError, match="unknown or already used state") as replayed:
        hub.launch(token, request["state"])
    assert replayed.value.status == 400
    other, _ = hub.begin()  # a fresh state does not make an old id_token good again
    with pytest.raises(LaunchError, match="nonce is not the one"):
        hub.launch(token, other["state"])
    for state in ("made-up", "", None):
        with pytest.raises(LaunchError, match="unknown or already used state"):
            hub.launch(token, state)


def test_states_expire_and_their_memory_is_bounded():
    clock = [1000.0]
    states = lti13_validator.LoginStates(capacity=3, lifetime=600, clock=lambda: clock[0])
    old = [states.begin("https://lms", "c")[0] for _ in range(3)]
    with pytest.raises(LaunchError, match="too many") as full:
        states.begin("https://lms", "c")
    assert full.value.status == 503 and len(states.states) == 3  # none forgotten while it may be used
    clock[0] += 601
    with pytest.raises(LaunchError, match="more than 600 s ago"):
        states.take(old[0])
    states.begin("https://lms", "c")
    states.begin("https://lms", "c")  # full again: the expired ones make room
    assert len(states.states) == 2


def test_a_platforms_new_key_is_fetched_when_a_launch_names_it(hub, platform, monkeypatch):
    # The hub refetches at most every KEYSET_COOLDOWN seconds (unknown key ids cannot make it
    # fetch in a loop); here without waiting.
    monkeypatch.setattr(lti13_validator, "KEYSET_COOLDOWN", 0)
    hub.keysets = lti13_validator.Keysets()
    request, _ = hub.begin()
    hub.launch(platform.id_token(platform.claims(request["nonce"])), request["state"])  # keyset cached
    platform.new_key()
    platform.publish()
    request, _ = hub.begin()
    hub.launch(platform.id_token(platform.claims(request["nonce"])), request["state"])


def test_an_unreachable_keyset_is_a_clear_error(hub, platform, tmp_path):
    registration = lti13_platforms.Platform("https://down.example.org", "c", ["1"], "http://127.0.0.1:9/jwks",
                                            platform.login_url, platform.token_url)
    lti13_platforms.add_platform(hub.state_dir, registration)
    state, nonce = hub.states.begin(registration.issuer, "c")
    token = platform.id_token({**platform.claims(nonce), "iss": registration.issuer, "aud": "c"})
    with pytest.raises(LaunchError, match="could not be read") as error:
        hub.launch(token, state)
    assert error.value.status == 502


@pytest.mark.parametrize("change, reason", [
    ({"issuer": "https://lms.example.org/"}, "no trailing slash .*'https://lms.example.org' is the usual form"),
    ({"issuer": "http://lms.example.org"}, "must be https://"),
    ({"issuer": "https://lms.example.org?x=1"}, "no query"),
    ({"keyset_url": "ftp://lms.example.org/jwks"}, "--keyset-url .* must be an https:// URL"),
    ({"login_url": "https://user:pw@lms.example.org/auth"}, "user name or password"),
    ({"client_id": "has space"}, "--client-id 'has space': 1 to 255 printable characters"),
    ({"deployment_ids": []}, "--deployment-id is required"),
    ({"token_url": ""}, "--token-url is required"),
])
def test_registrations_are_checked_field_by_field(tmp_path, change, reason):
    fields = dict(issuer="https://lms.example.org", client_id="c", deployment_ids=["1"],
                  keyset_url="https://lms.example.org/jwks", login_url="https://lms.example.org/auth",
                  token_url="https://lms.example.org/token")
    with pytest.raises(lti13_platforms.RegistrationError, match=reason):
        lti13_platforms.add_platform(str(tmp_path), lti13_platforms.Platform(**{**fields, **change}))
    assert not os.path.exists(lti13_platforms.platforms_path(str(tmp_path)))


def test_a_registration_is_added_once_kept_private_and_removed(tmp_path):
    platform = lti13_platforms.Platform("https://lms.example.org", "c", ["1"], "https://lms.example.org/jwks",
                                        "https://lms.example.org/auth", "https://lms.example.org/token")
    lti13_platforms.add_platform(str(tmp_path), platform)
    assert os.stat(lti13_platforms.platforms_path(str(tmp_path))).st_mode & 0o077 == 0
    with pytest.raises(lti13_platforms.RegistrationError, match="already registered .*--replace"):
        lti13_platforms.add_platform(str(tmp_path), platform)
    lti13_platforms.add_platform(str(tmp_path), lti13_platforms.Platform(**{**platform.__dict__, "deployment_ids": ["2"]}),
                                 replace=True)
    assert lti13_platforms.load_platforms(str(tmp_path))[("https://lms.example.org", "c")].deployment_ids == ["2"]
    lti13_platforms.remove_platform(str(tmp_path), "https://lms.example.org", "c")
    assert lti13_platforms.load_platforms(str(tmp_path)) == {}
    with pytest.raises(lti13_platforms.RegistrationError, match="no registration"):
        lti13_platforms.remove_platform(str(tmp_path), "https://lms.example.org", "c")


def test_a_registrations_file_edited_badly_names_the_registration(tmp_path):
    with open(lti13_platforms.platforms_path(str(tmp_path)), "w") as f:
        json.dump([{"issuer": "https://a.example.org", "client_id": "c", "deployment_ids": ["1"],
                    "keyset_url": "https://a.example.org/k", "login_url": "https://a.example.org/l",
                    "token_url": "https://a.example.org/t"}, {"issuer": "https://b.example.org/"}], f)
    with pytest.raises(ValueError, match="registration 2: needs the fields issuer, client_id"):
        lti13_platforms.load_platforms(str(tmp_path))


def test_the_tool_key_is_made_once_private_and_only_its_public_half_published(tmp_path):
    first = lti13_keys.keyset(str(tmp_path))
    assert first == lti13_keys.keyset(str(tmp_path))
    [key] = first["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert not set(key) & {"d", "p", "q", "dp", "dq", "qi"}  # no private member
    assert os.stat(tmp_path / lti13_keys.KEY_FILE).st_mode & 0o077 == 0
    signed = jwt.encode({"x": 1}, lti13_keys.tool_key(str(tmp_path)), algorithm="RS256", headers={"kid": key["kid"]})
    public = jwt.PyJWK(key).key
    assert jwt.decode(signed, public, algorithms=["RS256"]) == {"x": 1}


def test_a_rotated_key_signs_from_then_on_and_the_previous_stays_published_until_forgotten(tmp_path):
    state = str(tmp_path)
    first = lti13_keys.public_jwk(state)["kid"]
    second = lti13_keys.rotate(state)
    assert second != first and lti13_keys.public_jwk(state)["kid"] == second
    assert [key["kid"] for key in lti13_keys.keyset(state)["keys"]] == [second, first]
    third = lti13_keys.rotate(state)
    assert [key["kid"] for key in lti13_keys.keyset(state)["keys"]] == [third, second]  # the oldest dropped
    assert os.stat(tmp_path / lti13_keys.PREVIOUS_KEY_FILE).st_mode & 0o077 == 0
    assert lti13_keys.forget_previous(state) and not lti13_keys.forget_previous(state)
    assert [key["kid"] for key in lti13_keys.keyset(state)["keys"]] == [third]
