"""The authenticator's launch path without a hub: a request built as tornado builds it from an
edX-signed form (harness/edx.py). Making the user is a stand-in here (it writes /etc;
tests/integration/test_lti.py launches into the real stack); everything before it is real."""

import asyncio
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import HTTPError

from hubsetup import auth
from hubsetup.settings import Settings

from harness import edx

HOST = "hub.school.edu"
URL = f"https://{HOST}/hub/lti/launch"


def launch_request(params, **headers):
    request = HTTPServerRequest(start_line=RequestStartLine("POST", "/hub/lti/launch", "HTTP/1.1"),
                                body=urlencode(params).encode(),
                                headers=HTTPHeaders({"Content-Type": "application/x-www-form-urlencoded", "Host": HOST,
                                                     "X-Forwarded-Proto": "https", **headers}))
    request._parse_body()
    return SimpleNamespace(request=request)


@pytest.fixture
def authenticator(monkeypatch, tmp_path):
    settings = Settings.from_env({"LTI_KEY": "key", "LTI_SECRET": "secret", "HUB_STATE_DIR": str(tmp_path)})
    monkeypatch.setattr(auth, "current_settings", lambda: settings)
    made = []

    def apply_launch(settings, launch):
        made.append(launch)
        return "alice", "course-v1-demox-ds101-2026_t1"

    monkeypatch.setattr(auth, "apply_launch", apply_launch)
    monkeypatch.setattr(auth.HubAuthenticator, "user_model", lambda self, login: {"name": login, "groups": []})
    authenticator = auth.HubAuthenticator(username_key=settings.lti_username_key)  # as config.update_auth sets it
    authenticator.made = made
    return authenticator


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_signed_launch_becomes_a_user_with_the_course_in_auth_state(authenticator):
    params = edx.launch_params(URL, "key", "secret", username="alice", custom={"assignment": "ps1"})
    model = run(authenticator.authenticate_launch(launch_request(params)))
    (launch,) = authenticator.made
    assert (launch.consumer_key, launch.lti_user, launch.assignment) == ("key", "alice", "ps1")
    assert model["name"] == "alice" and model["auth_state"]["hub_course"] == "course-v1-demox-ds101-2026_t1"
    assert not [name for name in model["auth_state"] if name.startswith("oauth_")]


@pytest.mark.parametrize("change", [{"oauth_signature": "forged"}, {"roles": "Instructor"}])
def test_an_altered_launch_is_refused_before_anyone_is_made(authenticator, change):
    params = dict(edx.launch_params(URL, "key", "secret", username="alice"), **change)
    with pytest.raises(HTTPError) as error:
        run(authenticator.authenticate_launch(launch_request(params)))
    assert error.value.status_code == 401 and authenticator.made == []


def test_a_replayed_launch_is_refused(authenticator):
    params = edx.launch_params(URL, "key", "secret", username="alice")
    run(authenticator.authenticate_launch(launch_request(params)))
    with pytest.raises(HTTPError, match="already used"):
        run(authenticator.authenticate_launch(launch_request(params)))
    assert len(authenticator.made) == 1


def test_a_launch_signed_for_plain_http_does_not_pass_behind_https(authenticator):
    params = edx.launch_params(URL.replace("https:", "http:"), "key", "secret", username="alice")
    with pytest.raises(HTTPError):
        run(authenticator.authenticate_launch(launch_request(params)))
    assert authenticator.made == []
