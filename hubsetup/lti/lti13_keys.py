"""The hub's own LTI 1.3 key pair (RSA 2048), made once into the hub-state volume (readable by
root alone), and the public keyset platforms fetch to check what the hub signs (Deep Linking
responses, grade-service token requests)."""

import base64
import hashlib
import json
import os
import threading

KEY_FILE = "lti13_tool_key.pem"
_making = threading.Lock()


def _thumbprint(jwk):
    """RFC 7638: the key's id is the hash of its public members, so it names this key only."""
    members = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


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
    with open(path, "rb") as pem:
        return serialization.load_pem_private_key(pem.read(), password=None)


def public_jwk(state_dir):
    from jwt.algorithms import RSAAlgorithm

    jwk = RSAAlgorithm.to_jwk(tool_key(state_dir).public_key(), as_dict=True)
    return {**jwk, "kid": _thumbprint(jwk), "alg": "RS256", "use": "sig"}


def keyset(state_dir):
    """The JSON Web Key Set published at /hub/lti13/jwks."""
    return {"keys": [public_jwk(state_dir)]}
