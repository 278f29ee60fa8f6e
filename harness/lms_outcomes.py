"""A test LMS outcome service (LTI 1.1 Basic Outcomes), ours, for the grade passback tests.

It checks each request as an LMS must: the oauth_body_hash against the body, the HMAC-SHA1
signature with oauthlib, then records the score per sourcedId. Like edX it answers HTTP 200
with imsx_codeMajor=failure when it refuses. Sourced ids starting with "reject" are refused;
those starting with "flaky" get one HTTP 503 first (to exercise retries).

Run alone: python3 lms_outcomes.py PORT KEY SECRET RECORD.json [KEY SECRET ...]  (listens on 127.0.0.1 only)
"""

import base64
import hashlib
import json
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oauthlib.oauth1.rfc5849 import signature
from oauthlib.common import Request

NS = "{http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0}"
REPLY = (
    '<?xml version="1.0" encoding="UTF-8"?><imsx_POXEnvelopeResponse '
    'xmlns="http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0"><imsx_POXHeader>'
    "<imsx_POXResponseHeaderInfo><imsx_version>V1.0</imsx_version><imsx_messageIdentifier>1"
    "</imsx_messageIdentifier><imsx_statusInfo><imsx_codeMajor>{major}</imsx_codeMajor>"
    "<imsx_severity>status</imsx_severity><imsx_description>{description}</imsx_description>"
    "</imsx_statusInfo></imsx_POXResponseHeaderInfo></imsx_POXHeader><imsx_POXBody>"
    "<replaceResultResponse/></imsx_POXBody></imsx_POXEnvelopeResponse>"
)


def check_request(url, headers, body, consumers):
    """Why the request is not a correctly signed outcome request, or None."""
    request = Request(url, "POST", body, headers)
    params = dict(signature.collect_parameters(headers=headers, exclude_oauth_signature=False))
    secret = consumers.get(params.get("oauth_consumer_key"))
    if secret is None:
        return "unknown consumer key"
    expected_hash = base64.b64encode(hashlib.sha1(body.encode()).digest()).decode()
    if params.get("oauth_body_hash") != expected_hash:
        return "oauth_body_hash does not match the body"
    request.params = [(k, v) for k, v in params.items() if k != "oauth_signature"]
    request.signature = params.get("oauth_signature")
    if not signature.verify_hmac_sha1(request, client_secret=secret):
        return "signature does not verify"
    return None


class OutcomeService:
    def __init__(self, consumers, port=0):
        self.consumers, self.scores, self.requests = consumers, {}, 0
        self._flaky_seen = set()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                code, reply = service.handle(f"http://{self.headers['Host']}{self.path}", dict(self.headers), body)
                data = reply.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/outcomes"

    def handle(self, url, headers, body):
        self.requests += 1
        problem = check_request(url, headers, body, self.consumers)
        if problem:
            return 200, REPLY.format(major="failure", description=problem)
        root = ET.fromstring(body)
        sourcedid = root.find(f".//{NS}sourcedId").text
        score = float(root.find(f".//{NS}textString").text)
        if sourcedid.startswith("reject"):
            return 200, REPLY.format(major="failure", description="sourcedid is not in this course")
        if sourcedid.startswith("flaky") and sourcedid not in self._flaky_seen:
            self._flaky_seen.add(sourcedid)
            return 503, "try again"
        self.scores[sourcedid] = score
        return 200, REPLY.format(major="success", description=f"Score for {sourcedid} is now {score}")

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()


def main(port, key, secret, record, *more):
    """`more`: further KEY SECRET pairs, for an LMS with several consumers."""
    service = OutcomeService({key: secret, **dict(zip(more[::2], more[1::2]))}, int(port))
    original = service.handle

    def handle_and_record(*args):
        result = original(*args)
        with open(record, "w") as f:
            json.dump({"scores": service.scores, "requests": service.requests}, f)
        return result

    service.handle = handle_and_record
    service.server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
