"""The LTI 1.3 platforms (LMSs) the hub accepts launches from: one registration per (issuer,
client id), kept in the hub-state volume, added with `hubsetup lti13 add`.

A registration is what the LMS's admin reads off its own tool page (Open edX's LTI component,
Canvas's developer key, Moodle's external tool): the issuer, the client id it gave the hub,
its deployment ids, and the URLs of its keyset, its login (authorization) endpoint and its
token endpoint.
"""

import json
import os
import re
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from ..keys import save_private_json

PLATFORMS_FILE = "lti13_platforms.json"
# An identity or course of a platform is never one of another's, nor an LTI 1.1 consumer's:
# its key in the registry names the protocol, the issuer and the client.
KEY_PREFIX = "lti13"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_FIELD = 1000


class RegistrationError(ValueError):
    """A registration refused: the message names the field and what is wrong."""


@dataclass
class Platform:
    issuer: str
    client_id: str
    deployment_ids: list = field(default_factory=list)
    keyset_url: str = ""
    login_url: str = ""
    token_url: str = ""

    @property
    def key(self):
        """Its name in the registry's identities and courses (`consumer_key` for LTI 1.1)."""
        return f"{KEY_PREFIX}|{self.issuer}|{self.client_id}"


def check_url(name, value, issuer=False):
    """An https URL (http only on this machine's loopback, for a platform run in tests)."""
    if not value:
        raise RegistrationError(f"--{name} is required")
    if len(value) > MAX_FIELD or any(ord(c) <= 32 for c in value):
        raise RegistrationError(f"--{name} {value[:80]!r}: not a URL (spaces, control characters or too long)")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RegistrationError(f"--{name} {value!r}: must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise RegistrationError(f"--{name} {value!r}: must be https:// (http only for a platform on this machine)")
    if parts.username or parts.password:
        raise RegistrationError(f"--{name} {value!r}: may not carry a user name or password")
    if issuer:
        if "|" in value:
            raise RegistrationError(f"--issuer {value!r}: may not contain '|'")
        if parts.query or parts.fragment:
            raise RegistrationError(f"--issuer {value!r}: an issuer has no query or fragment")
        if value.endswith("/"):
            raise RegistrationError(f"--issuer {value!r}: no trailing slash (the platform's tokens name it "
                                    f"exactly: {value.rstrip('/')!r} is the usual form)")


TOKEN_FIELD = re.compile(r"[\x21-\x7b\x7d\x7e]{1,255}")  # printable ASCII but '|' (the key's separator), no spaces


def check_token_field(name, value):
    if not isinstance(value, str) or not TOKEN_FIELD.fullmatch(value):
        raise RegistrationError(f"--{name} {value!r}: 1 to 255 printable characters, no spaces or '|'")


def checked(platform):
    check_url("issuer", platform.issuer, issuer=True)
    check_token_field("client-id", platform.client_id)
    if not platform.deployment_ids or not isinstance(platform.deployment_ids, list):
        raise RegistrationError("--deployment-id is required (the LMS shows it beside the client id)")
    for deployment in platform.deployment_ids:
        check_token_field("deployment-id", deployment)
    for name in ("keyset-url", "login-url", "token-url"):
        check_url(name, getattr(platform, name.replace("-", "_")))
    return platform


FIELDS = ("issuer", "client_id", "deployment_ids", "keyset_url", "login_url", "token_url")


def platforms_path(state_dir):
    return os.path.join(state_dir, PLATFORMS_FILE)


def load_platforms(state_dir):
    """{(issuer, client_id): Platform} of the hub-state volume's registrations."""
    try:
        with open(platforms_path(state_dir), encoding="utf-8") as f:
            rows = json.load(f)
    except FileNotFoundError:
        return {}
    if not isinstance(rows, list):
        raise ValueError(f"{platforms_path(state_dir)} must be a JSON list of registrations")
    found = {}
    for number, row in enumerate(rows, 1):
        try:
            if not isinstance(row, dict) or set(row) != set(FIELDS):
                raise RegistrationError(f"needs the fields {', '.join(FIELDS)}")
            platform = checked(Platform(**row))
        except RegistrationError as error:
            raise ValueError(f"{platforms_path(state_dir)}, registration {number}: {error}") from None
        found[(platform.issuer, platform.client_id)] = platform
    return found


def save_platforms(state_dir, platforms):
    save_private_json(platforms_path(state_dir), [asdict(p) for p in platforms.values()])


def add_platform(state_dir, platform, replace=False):
    checked(platform)
    platforms = load_platforms(state_dir)
    key = (platform.issuer, platform.client_id)
    if key in platforms and not replace:
        raise RegistrationError(f"issuer {platform.issuer!r} with client id {platform.client_id!r} is already "
                                "registered (--replace to change it)")
    platforms[key] = platform
    save_platforms(state_dir, platforms)
    return platform


def remove_platform(state_dir, issuer, client_id):
    platforms = load_platforms(state_dir)
    if platforms.pop((issuer, client_id), None) is None:
        raise RegistrationError(f"no registration of issuer {issuer!r} with client id {client_id!r}")
    save_platforms(state_dir, platforms)
