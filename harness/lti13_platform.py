"""An LTI 1.3 platform of our own, as Open edX's LTI component is one: its RSA key pair and
public keyset, the third-party login it starts, and the id_tokens it signs (claims as Open edX
sends them), and its token and scores endpoints. Signing needs pyjwt and cryptography (the test
runner's); serving needs pyjwt for the token endpoint only, so the same file runs inside the
hub's container (with /opt/venv's python):

  python3 lti13_platform.py PORT KEYSET_FILE [RECORD_FILE TOOL_KEYSET CLIENT_ID]

serves KEYSET_FILE at /jwks on 127.0.0.1 and, with the others, the token and scores endpoints.
"""

import http.server
import json
import os
import secrets
import sys
import threading
import time
from urllib.parse import parse_qs, parse_qsl, urlsplit

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

    def claims(self, nonce, sub="user-1", roles=(LEARNER,), context_id=COURSE, custom=None, line_item=None, roster=None,
               line_items=None, **extra):
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
        if roster:  # Names and Role Provisioning offered
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": roster, "service_versions": ["2.0"]}
        if line_items:  # a link with no line item of its own: the tool may make one
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                "scope": [LINE_ITEM_SCOPE, SCORE_SCOPE], "lineitems": line_items}
        if line_item:  # a graded link: Assignment and Grade Services, scores allowed
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", SCORE_SCOPE],
                "lineitem": line_item, "lineitems": line_item.rsplit("/", 2)[0]}
        claims.update(extra)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(self, claims, kid=None, key=None, algorithm="RS256", headers=None):
        import jwt

        kid = kid or self.kid
        return jwt.encode(claims, key if key is not None else self.keys[kid], algorithm=algorithm,
                          headers={"kid": kid, **(headers or {})})


SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ROSTER_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINE_ITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


def line_items(port):
    return f"http://127.0.0.1:{port}/lineitems"
MEMBERS_PER_PAGE = 2


def memberships_url(port):
    return f"http://127.0.0.1:{port}/memberships"


def line_item(port, name):
    return f"http://127.0.0.1:{port}/lineitems/{name}/lineitem"


def serve_platform(port, keyset_file, record_file=None, tool_keyset=None, client_id=None, members_file=None):
    """The platform's keyset at /jwks (read from the file at each request: the test rotates it
    there); with `record_file`, its token endpoint (/token: the tool's signed assertion checked
    against the tool's keyset, a URL or a file) and line items' scores endpoints, recording
    every score (and every refusal, with why) in `record_file`; with `members_file` (a JSON list
    of members), the course's roster at /memberships, MEMBERS_PER_PAGE a page."""
    tokens, lock = {}, threading.Lock()
    record = {"tokens": 0, "scores": {}, "refused": [], "line_items": []}
    token_url = f"http://127.0.0.1:{port}/token"

    def save():
        with open(record_file + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(record_file + ".tmp", record_file)

    def tool_key(assertion):
        import jwt

        if tool_keyset.startswith("http"):
            return jwt.PyJWKClient(tool_keyset).get_signing_key_from_jwt(assertion).key
        with open(tool_keyset) as f:
            keys = jwt.PyJWKSet.from_dict(json.load(f))
        return keys[jwt.get_unverified_header(assertion)["kid"]].key

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body, content_type="application/json", headers=()):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def refuse(self, status, why):
            with lock:
                record["refused"].append(f"{self.path}: {why}")
                save()
            self.reply(status, {"error": why})

        def do_GET(self):
            if urlsplit(self.path).path == "/lineitems" and record_file:
                return self.find_line_items(dict(parse_qsl(urlsplit(self.path).query)))
            if self.path.startswith("/memberships") and members_file:
                return self.memberships(int(dict(parse_qsl(urlsplit(self.path).query)).get("page", "0")))
            if self.path != "/jwks":
                return self.reply(404, {"error": "no such page"})
            with open(keyset_file) as f:
                self.reply(200, f.read())

        def memberships(self, page):
            bearer = self.headers.get("Authorization", "")
            if ROSTER_SCOPE not in tokens.get(bearer[len("Bearer "):], ""):
                return self.refuse(401, "no access token of the roster's scope")
            with open(members_file) as f:
                members = json.load(f)
            shown = members[page * MEMBERS_PER_PAGE:(page + 1) * MEMBERS_PER_PAGE]
            more = (page + 1) * MEMBERS_PER_PAGE < len(members)
            self.reply(200, {"id": self.path, "context": {"id": COURSE}, "members": shown},
                       "application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
                       [("Link", f'<{memberships_url(port)}?page={page + 1}>; rel="next"')] if more else [])

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if record_file is None:
                return self.reply(404, {"error": "no such page"})
            if self.path == "/token":
                return self.token(dict(parse_qsl(body.decode())))
            if self.path.startswith("/lineitems/") and self.path.endswith("/lineitem/scores"):
                return self.score(self.path[len("/lineitems/"):-len("/lineitem/scores")], body)
            if self.path == "/lineitems":
                return self.make_line_item(json.loads(body))
            self.reply(404, {"error": "no such page"})

        def token(self, form):
            import jwt

            scope = form.get("scope", "")
            if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != \
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" or not {SCORE_SCOPE, ROSTER_SCOPE, LINE_ITEM_SCOPE} & set(scope.split()):
                return self.refuse(400, f"not a client-credentials request for a scope of the services: {sorted(form)}")
            try:
                assertion = form["client_assertion"]
                claims = jwt.decode(assertion, tool_key(assertion), algorithms=["RS256"], audience=token_url,
                                    issuer=client_id, options={"require": ["exp", "iat", "jti", "sub"]})
                if claims["sub"] != client_id:
                    raise ValueError("sub is not the client id")
            except Exception as error:
                return self.refuse(401, f"client assertion refused: {error}")
            token = secrets.token_hex(16)
            with lock:
                tokens[token] = scope
                record["tokens"] += 1
                save()
            self.reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": scope})

        def line_item_token(self):
            bearer = self.headers.get("Authorization", "")
            return LINE_ITEM_SCOPE in tokens.get(bearer[len("Bearer "):], "").split()

        def find_line_items(self, query):
            if not self.line_item_token():
                return self.refuse(401, "no access token of the line items' scope")
            found = [item for item in record["line_items"] if item["resourceId"] == query.get("resource_id")
                     and item.get("resourceLinkId") == query.get("resource_link_id")]
            self.reply(200, found, "application/vnd.ims.lis.v2.lineitemcontainer+json")

        def make_line_item(self, item):
            if not self.line_item_token():
                return self.refuse(401, "no access token of the line items' scope")
            if not isinstance(item.get("scoreMaximum"), (int, float)) or not item.get("label"):
                return self.refuse(400, f"not a line item: {item}")
            with lock:
                item = {**item, "id": line_item(port, item["resourceId"])}
                record["line_items"].append(item)
                save()
            self.reply(201, item, "application/vnd.ims.lis.v2.lineitem+json")

        def score(self, item, body):
            bearer = self.headers.get("Authorization", "")
            if SCORE_SCOPE not in tokens.get(bearer[len("Bearer "):], ""):
                return self.refuse(401, "no valid access token")
            if self.headers.get("Content-Type") != SCORE_TYPE:
                return self.refuse(415, f"content type {self.headers.get('Content-Type')!r}")
            score = json.loads(body)
            missing = {"userId", "scoreGiven", "scoreMaximum", "activityProgress", "gradingProgress", "timestamp"} - set(score)
            if missing or score["gradingProgress"] != "FullyGraded":
                return self.refuse(400, f"not a full score: missing {sorted(missing)}")
            with lock:
                sent = record["scores"].setdefault(item, {}).setdefault(score["userId"], [])
                if sent and score["timestamp"] <= sent[-1]["timestamp"]:
                    record["refused"].append(f"{item}: a timestamp not after the last one for {score['userId']}")
                sent.append(score)
                save()
            self.reply(200, {})

        def log_message(self, *args):
            pass

    if record_file:
        save()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    serve_platform(int(sys.argv[1]), *sys.argv[2:])
    threading.Event().wait()
