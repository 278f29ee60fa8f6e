"""LTI 1.1 launches: what a basic launch must carry, and the protocol-independent Launch its
fields make (the signature is lti11_validator's)."""

from ..person_names import person_name
from .launch import Launch
from .rules import LaunchError, is_instructor

MESSAGE_TYPE = "basic-lti-launch-request"
VERSIONS = {"LTI-1p0", "LTI-1p1"}  # LTI 1.1 launches still say LTI-1p0 (spec, section 5.1)
REQUIRED = ("lti_message_type", "lti_version", "resource_link_id", "user_id")


def check_launch(args):
    """Refuse launches that are not LTI 1.1 basic launches, before any signature work."""
    for name in REQUIRED:
        if not args.get(name):
            raise LaunchError(400, f"launch is missing {name}")
    if args["lti_message_type"] != MESSAGE_TYPE:
        raise LaunchError(400, f"lti_message_type {args['lti_message_type']!r} is not {MESSAGE_TYPE!r}")
    if args["lti_version"] not in VERSIONS:
        raise LaunchError(400, f"lti_version {args['lti_version']!r} is not one of {sorted(VERSIONS)}")


def launch_of(args, consumer_key, username_key):
    """The Launch of a verified launch's fields (`oauth_*` already left out). `username_key`
    names the field that names the user (LTI_USERNAME_KEY); the anonymous user_id otherwise."""
    return Launch(
        consumer_key=consumer_key,
        lti_user=args.get(username_key) or args["user_id"],
        context_id=args.get("context_id") or "lti-" + consumer_key,
        instructor=is_instructor(args.get("roles", "")),
        resource_link_id=args["resource_link_id"],
        assignment=args.get("custom_assignment", ""),
        score_url=args.get("lis_outcome_service_url", ""),
        score_for=args.get("lis_result_sourcedid", ""),
        protocol="lti11",
        anonymous_id=args["user_id"],
        # edX sends these with "Request user's name" on (lis_person_name_full alone).
        name=person_name(args.get("lis_person_name_full"), args.get("lis_person_name_given"),
                         args.get("lis_person_name_family"), who=f"LTI user {args['user_id']}"),
    )
