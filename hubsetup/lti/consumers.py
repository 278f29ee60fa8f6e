"""The LTI 1.1 consumers the hub accepts (key -> secret), kept in the hub-state volume, and the
passports edX Studio takes."""

import json
import os
import re
import secrets

from ..keys import save_private_json

CONSUMERS_FILE = "lti_consumers.json"


def consumers_path(state_dir):
    return os.path.join(state_dir, CONSUMERS_FILE)


def load_consumers(state_dir):
    """{key: secret} from the hub-state volume's consumers file ({} when there is none)."""
    try:
        with open(consumers_path(state_dir)) as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise ValueError(f"{consumers_path(state_dir)} must be a JSON object of key: secret strings")
    return data


def save_consumers(state_dir, consumers):
    save_private_json(consumers_path(state_dir), consumers)


def new_consumer(state_dir, key=None):
    """Add a consumer with a generated secret (and key, unless given); returns (key, secret)."""
    consumers = load_consumers(state_dir)
    key = key or "hub-" + secrets.token_hex(8)
    if key in consumers:
        raise ValueError(f"consumer key {key!r} already exists")
    consumers[key] = secrets.token_urlsafe(32)
    save_consumers(state_dir, consumers)
    return key, consumers[key]


def all_consumers(state_dir, configured=None):
    """The consumers the hub accepts: LTI_KEY/LTI_SECRET from the settings and the file's."""
    consumers = load_consumers(state_dir)
    if configured:
        consumers.update(configured)
    return consumers


TEAM_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def team_key(team):
    """A course team's consumer key: its name, which launches show (the secret is what counts)."""
    if not TEAM_PATTERN.match(team):
        raise ValueError(f"team {team!r}: use up to 40 lowercase letters, digits, '_', '.', '-'")
    return team


def passport(lti_id, key, secret):
    """The string edX Studio takes under Advanced Settings -> LTI Passports."""
    for part, name in ((lti_id, "LTI id"), (key, "key"), (secret, "secret")):
        if ":" in part:
            raise ValueError(f"the {name} {part!r} may not contain ':' (it separates passport fields)")
    return f"{lti_id}:{key}:{secret}"
