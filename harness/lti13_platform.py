"""An LTI 1.3 platform of our own, as Open edX's LTI component is one: its RSA key pair and
public keyset, the third-party login it starts, and the id_tokens it signs (claims as Open edX
sends them). Signing needs pyjwt and cryptography (the test runner's); serving the keyset
needs only the standard library, so the same file runs inside the hub's container:

  python3 lti13_platform.py PORT KEYSET_FILE     (serves KEYSET_FILE at /jwks, on 127.0.0.1)
"""

import http.server
import secrets
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
COURSE = "course-v1:DemoX+LTI13+2026"


class Platform:
    def __init__(self, issuer, client_id="hub-client", deployment_id="1", port=9998):
        self.issuer, self.client_id, self.deployment_id = issuer, client_id, deployment_id
        self.keyset_url = f"http://127.0.0.1:{port}/jwks"
        self.login_url = f"http://127.0.0.1:{port}/auth"
        self.token_url = f"http://127.0.0.1:{port}/token"
        self.keys = {}
        self.kid = self.new_key()

    def new_key(self):
        """A new signing key (the keyset keeps the old ones): how a platform rotates."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        kid = "platform-" + secrets.token_hex(4)
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        return kid

    def keyset(self):
        from jwt.algorithms import RSAAlgorithm

        return {"keys": [{**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256",
                          "use": "sig"} for kid, key in self.keys.items()]}

    def registration(self):
        """`hubsetup lti13 add`'s arguments for this platform."""
        return ["--issuer", self.issuer, "--client-id", self.client_id, "--deployment-id", self.deployment_id,
                "--keyset-url", self.keyset_url, "--login-url", self.login_url, "--token-url", self.token_url]

    def login(self, target_link_uri, login_hint="hint-1", **extra):
        """The third-party login initiation the platform sends the tool."""
        return {"iss": self.issuer, "login_hint": login_hint, "target_link_uri": target_link_uri,
                "client_id": self.client_id, "lti_deployment_id": self.deployment_id, **extra}

    @staticmethod
    def auth_request(location):
        """The tool's authentication request (the redirect's query) as a dict."""
        return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}

    def claims(self, nonce, sub="user-1", roles=(LEARNER,), context_id=COURSE, custom=None, **extra):
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 300, "nonce": nonce,
            CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "",
            CLAIM + "resource_link": {"id": "block-v1:DemoX+LTI13+2026+type@lti_consumer+block@ps1"},
            CLAIM + "roles": list(roles),
            CLAIM + "context": {"id": context_id, "label": "LTI13", "title": "LTI 1.3 demo"},
        }
        if custom:
            claims[CLAIM + "custom"] = custom
        claims.update(extra)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(self, claims, kid=None, key=None, algorithm="RS256", headers=None):
        import jwt

        kid = kid or self.kid
        return jwt.encode(claims, key if key is not None else self.keys[kid], algorithm=algorithm,
                          headers={"kid": kid, **(headers or {})})


def serve_keyset(port, keyset_file):
    """The keyset at /jwks, read from the file at each request (the test rotates it there)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/jwks":
                self.send_error(404)
                return
            with open(keyset_file, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    serve_keyset(int(sys.argv[1]), sys.argv[2])
    threading.Event().wait()
