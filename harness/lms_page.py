"""A pretend LMS on its own HTTPS origin: a course page that frames an edX-style LTI launch.

Served on 127.0.0.1 with a throwaway self-signed certificate for *.localhost (browsers map any
*.localhost name to loopback, so lms.localhost and other.localhost are two origins here)."""

import html
import os
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Course unit: Data Science 101</title></head>
<body style="font-family:sans-serif">
<h2>Data Science 101 &mdash; Unit 1</h2>
<form id="launch" action="{action}" method="post" target="{target}">{fields}</form>
<iframe name="lti-frame" id="lti-frame" style="width:100%;height:720px;border:1px solid #888"
  allow="clipboard-read; clipboard-write"></iframe>
<script>document.getElementById("launch").submit();</script>
</body></html>"""


def make_certificate(folder):
    cert, key = os.path.join(folder, "lms.crt"), os.path.join(folder, "lms.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=lms.localhost",
         "-addext", "subjectAltName=DNS:lms.localhost,DNS:other.localhost", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    return cert, key


class LmsPage:
    """`launches` maps a path to a function of the query giving the signed launch form's fields
    (posted to `action` in the page's frame), or (action, fields, target): an LTI 1.3
    platform's pages post its login initiation into the frame and, at its authentication URL,
    the id_token to the tool in the same frame (`_self`)."""

    def __init__(self, folder, port, action):
        self.action, self.launches = action, {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                make = owner.launches.get(urlsplit(self.path).path)
                if make is None:
                    self.send_error(404)
                    return
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                made = make(**query)
                action, values, target = made if isinstance(made, tuple) else (owner.action, made, "lti-frame")
                fields = "".join(
                    f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                    for k, v in values.items()
                )
                body = PAGE.format(action=html.escape(action), fields=fields, target=html.escape(target)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*make_certificate(folder))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
