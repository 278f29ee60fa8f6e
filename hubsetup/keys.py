"""Secrets generated on first start into the hub-state volume, never baked into the image."""

import json
import os
import secrets


def ensure_secret(state_dir, name, nbytes=32):
    """The hex secret stored in `<state_dir>/<name>`, generated (0600) if missing."""
    path = os.path.join(state_dir, name)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    try:
        with open(path) as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def save_private_json(path, data):
    """`data` as JSON at `path` (its folder 0700, the file 0600), replaced in one rename."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)
