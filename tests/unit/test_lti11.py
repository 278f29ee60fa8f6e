"""LTI 1.1 launches: the fields a basic launch must carry, and the Launch they make."""

import pytest

from hubsetup.lti import lti11
from hubsetup.lti.rules import LaunchError

from harness import edx

VALID = {"lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0",
         "resource_link_id": "block-v1:DemoX+DS101+2026_T1+type@lti_consumer+block@abc", "user_id": "f00d"}


@pytest.mark.parametrize("missing", lti11.REQUIRED)
def test_launch_without_required_field_is_refused(missing):
    with pytest.raises(LaunchError) as error:
        lti11.check_launch({k: v for k, v in VALID.items() if k != missing})
    assert error.value.status == 400 and missing in str(error.value)


@pytest.mark.parametrize("field,value", [("lti_version", "LTI-2p0"), ("lti_message_type", "ContentItemSelectionRequest")])
def test_launch_of_other_kind_is_refused(field, value):
    with pytest.raises(LaunchError, match=field):
        lti11.check_launch(dict(VALID, **{field: value}))


def fields_of(**kwargs):
    """An edX launch's fields (tests/integration/edx.py signs them like lti-consumer-xblock),
    without the oauth_* ones, as the authenticator hands them over once verified."""
    signed = edx.launch_params("https://hub.school.edu/hub/lti/launch", "key", "secret", **kwargs)
    return {name: value for name, value in signed.items() if not name.startswith("oauth_")}


def test_an_edx_launch_with_the_username_names_the_user_by_it():
    args = fields_of(username="alice", roles="Instructor", custom={"assignment": "ps1"})
    launch = lti11.launch_of(args, "key", "lis_person_sourcedid")
    assert (launch.lti_user, launch.instructor, launch.assignment, launch.protocol) == ("alice", True, "ps1", "lti11")
    assert launch.context_id == edx.COURSE and launch.resource_link_id == args["resource_link_id"]
    assert (launch.score_url, launch.score_for) == (args["lis_outcome_service_url"], args["lis_result_sourcedid"])


def test_without_the_username_the_anonymous_id_names_the_user_and_a_missing_context_the_consumer():
    args = fields_of(user_id="f00d", drop=("context_id", "lis_outcome_service_url"))
    launch = lti11.launch_of(args, "key", "lis_person_sourcedid")
    assert (launch.lti_user, launch.context_id, launch.instructor) == ("f00d", "lti-key", False)
    assert launch.score_url == "" and launch.assignment == ""


def test_the_name_edx_sends_is_the_launchs_and_one_that_is_no_name_is_dropped(caplog):
    args = fields_of(username="zhang", user_id="f00d", full_name="张三")
    launch = lti11.launch_of(args, "key", "lis_person_sourcedid")
    assert (launch.name.shown, launch.anonymous_id) == ("张三", "f00d")
    parts = lti11.launch_of(dict(args, lis_person_name_given="三", lis_person_name_family="张"), "key",
                            "lis_person_sourcedid")
    assert parts.name.first_last() == ("三", "张")
    bad = lti11.launch_of(dict(args, lis_person_name_full="张三\r\nroot"), "key", "lis_person_sourcedid")
    assert not bad.name and "LTI user f00d" in caplog.text
