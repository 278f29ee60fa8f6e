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
        states, keysets = lti13_validator.LoginStates("test-key"), lti13_validator.Keysets()

        def platforms(self):
            return lti13_platforms.load_platforms(self.state_dir)

        def begin(self, **extra):
            """The login initiation answered: (auth request's parameters, its URL)."""
            url = lti13.authentication_request(platform.login(LAUNCH_URL, **extra), self.platforms(), self.states,
                                               LAUNCH_URL, HOST)
            return platform.auth_request(url), url

        def launch(self, token, state):
            """As the hub's launch handler: the state taken, then every check."""
            return lti13.verify_launch(token, state, self.platforms(), self.states, self.keysets)[0]

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
    assert error.value.status == status and hub.states.used == {}


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
    "Deep Linking without its settings": (lambda p, c: p.id_token({**c, CLAIM + "message_type": "LtiDeepLinkingRequest"}),
                                          400, "no deep_linking_settings"),
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
    with pytest.raises(LaunchError, match="already used") as replayed:
        hub.launch(token, request["state"])
    assert replayed.value.status == 400
    other, _ = hub.begin()  # a fresh state does not make an old id_token good again
    with pytest.raises(LaunchError, match="nonce is not the one"):
        hub.launch(token, other["state"])
    forged = request["state"].rsplit(".", 1)[0] + ".AAAA"
    other_hubs = lti13_validator.LoginStates("another hub's key").begin(platform.issuer, platform.client_id)[0]
    for state in ("made-up", "", None, forged, other_hubs):
        with pytest.raises(LaunchError, match="unknown login state"):
            hub.launch(token, state)


def test_states_cost_nothing_until_used_expire_and_the_used_ones_are_bounded():
    clock = [1000.0]
    states = lti13_validator.LoginStates("k", capacity=3, lifetime=600, clock=lambda: clock[0])
    begun = [states.begin("https://lms", "c")[0] for _ in range(1000)]  # logins never finished
    assert states.used == {}
    for state in begun[:3]:
        states.spend(states.take(state))
    with pytest.raises(LaunchError, match="too many") as full:
        states.spend(states.take(begun[3]))
    assert full.value.status == 503 and len(states.used) == 3  # none forgotten while it may be replayed
    clock[0] += 601
    with pytest.raises(LaunchError, match="began more than 600 s ago"):
        states.take(begun[4])
    fresh = states.begin("https://lms", "c")[0]
    states.spend(states.take(fresh))  # the expired ones make room
    assert len(states.used) == 1


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


DEEP_LINKING = {CLAIM + "message_type": "LtiDeepLinkingRequest", CLAIM + "resource_link": None,
                "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
                    "deep_link_return_url": "https://lms.example.org/deep_link_return", "accept_types": ["ltiResourceLink"],
                    "accept_presentation_document_targets": ["iframe", "window"], "data": "opaque-7"}}


def test_a_deep_linking_request_is_verified_like_a_launch(hub, platform):
    request, _ = hub.begin()
    claims = hub.launch(platform.id_token({**platform.claims(request["nonce"], roles=[INSTRUCTOR]), **DEEP_LINKING}),
                        request["state"])
    assert lti13_validator.deep_linking_settings(claims)["data"] == "opaque-7"
    assert lti13.launch_of(claims, hub.platforms()[(platform.issuer, platform.client_id)]).resource_link_id == \
        "deep-linking"


@pytest.mark.parametrize("change, reason", [
    ({"deep_link_return_url": "http://evil.example.com/return"}, "must be https://"),
    ({"deep_link_return_url": None}, "deep_link_return_url is required"),
    ({"accept_types": ["file"]}, "does not accept links"),
])
def test_a_deep_linking_request_must_say_where_to_answer_and_accept_links(hub, platform, change, reason):
    request, _ = hub.begin()
    settings_claim = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    claims = {**platform.claims(request["nonce"]), **DEEP_LINKING,
              settings_claim: {**DEEP_LINKING[settings_claim], **change}}
    with pytest.raises(LaunchError, match=reason):
        hub.launch(platform.id_token(claims), request["state"])


def test_the_deep_linking_response_is_signed_by_the_hub_and_links_what_was_chosen(tmp_path, platform):
    from hubsetup.lti import lti13_deep_linking

    registration = lti13_platforms.Platform(platform.issuer, platform.client_id, ["1"], platform.keyset_url,
                                            platform.login_url, platform.token_url)
    settings = DEEP_LINKING["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]
    choices = lti13_deep_linking.offered({"lessons": ["week1/intro.ipynb"], "assignments": [["ps1", 3.0], ["ps2", None]]})
    request = lti13_deep_linking.Request(registration, "1", settings, "c1", choices)
    with pytest.raises(LaunchError, match="not one this page offered"):
        lti13_deep_linking.chosen(request, "assignment", "ps9")
    with pytest.raises(LaunchError, match="not one this page offered"):
        lti13_deep_linking.chosen(request, "file", "week1/intro.ipynb")
    points = lti13_deep_linking.chosen(request, "assignment", "ps1")
    item = lti13_deep_linking.content_item("assignment", "ps1", points, "https://hub/hub/lti13/launch")
    token = lti13_deep_linking.response_token(str(tmp_path), request, item)
    [key] = lti13_keys.keyset(str(tmp_path))["keys"]
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=platform.issuer)
    assert claims["iss"] == platform.client_id and claims[CLAIM + "deployment_id"] == "1"
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-7"
    [linked] = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert linked == {"type": "ltiResourceLink", "title": "ps1", "url": "https://hub/hub/lti13/launch",
                      "custom": {"assignment": "ps1"},
                      "lineItem": {"scoreMaximum": 3.0, "label": "ps1", "resourceId": "ps1", "tag": "nbgrader"}}
    lesson = lti13_deep_linking.content_item("lesson", "week1/intro.ipynb", None, "https://hub/hub/lti13/launch")
    assert lesson["title"] == "intro" and lesson["custom"] == {"lesson": "week1/intro.ipynb"} and "lineItem" not in lesson


def test_the_picker_page_offers_each_choice_with_the_requests_key_and_escapes_names():
    from hubsetup.lti import lti13_deep_linking

    choices = lti13_deep_linking.offered({"lessons": ['<img src=x onerror="alert(1)">.ipynb'], "assignments": [["ps1", 2.0]]})
    request = lti13_deep_linking.Request(None, "1", {}, "c<1>", choices)
    page = lti13_deep_linking.picker_page("key-1", request, "/hub/lti13/deep-link")
    assert "<img" not in page and "c&lt;1&gt;" in page and "ps1 (2 points)" in page
    assert page.count('name="request" value="key-1"') == 2


def test_an_id_token_too_large_is_refused_before_it_is_read(hub, platform):
    request, _ = hub.begin()
    token = "e" * (lti13_validator.MAX_TOKEN + 1)
    with pytest.raises(LaunchError, match="longer than") as error:
        hub.launch(token, request["state"])
    assert error.value.status == 400


def test_a_key_the_platform_withdrew_is_refused_once_the_keyset_is_read_again(hub, platform, monkeypatch):
    monkeypatch.setattr(lti13_validator, "KEYSET_LIFESPAN", 0)
    monkeypatch.setattr(lti13_validator, "KEYSET_COOLDOWN", 0)
    hub.keysets = lti13_validator.Keysets()
    request, _ = hub.begin()
    old = platform.kid
    hub.launch(platform.id_token(platform.claims(request["nonce"])), request["state"])
    platform.new_key()
    del platform.keys[old]
    platform.publish()
    request, _ = hub.begin()
    # signed with whatever key: the hub no longer has one of that id
    with pytest.raises(LaunchError, match="has the id_token's key id"):
        hub.launch(platform.id_token(platform.claims(request["nonce"]), kid=old, key=other_key()), request["state"])


def test_an_issuer_that_is_not_a_string_is_refused_not_a_crash(hub, platform):
    import base64

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    request, _ = hub.begin()
    token = f"{part({'alg': 'RS256', 'kid': platform.kid})}.{part({'iss': [platform.issuer]})}.c2ln"
    with pytest.raises(LaunchError, match="must be strings") as error:
        hub.launch(token, request["state"])
    assert error.value.status == 400


@pytest.mark.parametrize("change, status", [
    ({"iat": "1"}, 401),
    ({"nonce": "ñ-not-ascii"}, 401),
])
def test_claims_of_the_wrong_type_are_refused_not_a_crash(hub, platform, change, status):
    request, _ = hub.begin()
    with pytest.raises(LaunchError) as error:
        hub.launch(platform.id_token({**platform.claims(request["nonce"]), **change}), request["state"])
    assert error.value.status == status


def test_a_slow_or_huge_keyset_is_given_up(tmp_path, monkeypatch):
    import http.server
    import threading

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b" " * 100_000)  # 10 MB, never a keyset
                self.wfile.flush()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(LaunchError, match="too large or too slow") as error:
            lti13_validator.Keysets().signing_key(f"http://127.0.0.1:{server.server_port}/jwks", "k1")
        assert error.value.status == 502
        keysets = lti13_validator.Keysets()
        with pytest.raises(LaunchError):
            keysets.signing_key(f"http://127.0.0.1:{server.server_port}/jwks", "k1")
        with pytest.raises(LaunchError, match="has the id_token's key id"):  # no second fetch within the cooldown
            keysets.signing_key(f"http://127.0.0.1:{server.server_port}/jwks", "k2")
    finally:
        server.shutdown()


@pytest.mark.parametrize("roles, teaches", [
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"], True),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"], True),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"], True),
    (["Instructor"], True),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], False),
    (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"], False),
    (["http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"], False),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner", 7], False),
])
def test_only_course_roles_that_teach_make_an_instructor(roles, teaches):
    assert lti13.teaches(roles) is teaches


@pytest.mark.parametrize("issuer, client", [("https://lms.a.edu|x", "c"), ("https://lms.a.edu", "x|c")])
def test_the_key_separator_is_refused_in_a_registration(tmp_path, issuer, client):
    """Otherwise (https://lms.a.edu, x|c) and (https://lms.a.edu|x, c) would share one key."""
    with pytest.raises(lti13_platforms.RegistrationError, match="'[|]'"):
        lti13_platforms.add_platform(str(tmp_path), lti13_platforms.Platform(
            issuer, client, ["1"], "https://lms.a.edu/k", "https://lms.a.edu/l", "https://lms.a.edu/t"))


def test_the_published_keyset_is_made_once_per_key_change(tmp_path, monkeypatch):
    first = lti13_keys.published_keyset(str(tmp_path))
    monkeypatch.setattr(lti13_keys, "keyset", lambda state_dir: pytest.fail("made again without a change"))
    assert lti13_keys.published_keyset(str(tmp_path)) is first
    monkeypatch.undo()
    lti13_keys.rotate(str(tmp_path))
    assert len(lti13_keys.published_keyset(str(tmp_path))["keys"]) == 2
