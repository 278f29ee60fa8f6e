"""The hub's own LTI 1.3 key pair (RSA 2048), made once into the hub-state volume (readable by
root alone), and the public keyset platforms fetch to check what the hub signs (grade-service
token requests). `hubsetup lti13 rotate-key` makes a new pair; the previous public key stays in
the keyset until the next rotation, so a platform holding something signed just before still
finds its key."""

import base64
import hashlib
import json
import os
import threading

KEY_FILE = "lti13_tool_key.pem"
PREVIOUS_KEY_FILE = "lti13_tool_key.previous.pem"
_making = threading.Lock()


def _thumbprint(jwk):
    """RFC 7638: the key's id is the hash of its public members, so it names this key only."""
    members = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def _load(path):
    from cryptography.hazmat.primitives import serialization

    with open(path, "rb") as pem:
        return serialization.load_pem_private_key(pem.read(), password=None)


def tool_key(state_dir):
    """The private key, made the first time it is asked for."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = os.path.join(state_dir, KEY_FILE)
    with _making:
        if not os.path.exists(path):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            os.makedirs(state_dir, mode=0o700, exist_ok=True)
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            os.replace(path + ".tmp", path)
    return _load(path)


def _public(key):
    from jwt.algorithms import RSAAlgorithm

    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": _thumbprint(jwk), "alg": "RS256", "use": "sig"}


def public_jwk(state_dir):
    return _public(tool_key(state_dir))


def keyset(state_dir):
    """The JSON Web Key Set published at /hub/lti13/jwks: the key in use, and the previous one."""
    keys = [public_jwk(state_dir)]
    previous = os.path.join(state_dir, PREVIOUS_KEY_FILE)
    if os.path.exists(previous):
        keys.append(_public(_load(previous)))
    return {"keys": keys}


_published = {}  # state_dir -> (the key files' times, keyset)


def published_keyset(state_dir):
    """`keyset`, made again only when a key file changed: /hub/lti13/jwks answers anyone, and
    loading a private key costs tens of milliseconds of the hub's event loop."""
    tool_key(state_dir)  # made first: its file's time is part of what the cache goes by
    times = []
    for name in (KEY_FILE, PREVIOUS_KEY_FILE):
        try:
            times.append(os.stat(os.path.join(state_dir, name)).st_mtime_ns)
        except FileNotFoundError:
            times.append(None)
    cached = _published.get(state_dir)
    if cached is None or cached[0] != times:
        cached = _published[state_dir] = (times, keyset(state_dir))
    return cached[1]


def rotate(state_dir):
    """A new key pair in use; the one it replaces becomes the previous (and the previous before
    it is dropped). Returns the new key's id."""
    tool_key(state_dir)  # there is one to replace
    with _making:
        os.replace(os.path.join(state_dir, KEY_FILE), os.path.join(state_dir, PREVIOUS_KEY_FILE))
    return public_jwk(state_dir)["kid"]


def forget_previous(state_dir):
    """The previous key out of the keyset (once no platform can hold anything it signed)."""
    try:
        os.unlink(os.path.join(state_dir, PREVIOUS_KEY_FILE))
    except FileNotFoundError:
        return False
    return True
