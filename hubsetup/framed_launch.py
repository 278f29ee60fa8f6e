"""Launches inside an LMS frame whose browser refuses third-party cookies and storage.

Browsers that block third-party cookies (Chrome's incognito windows by default, Safari, any
browser set to) also block the frame's localStorage, without which JupyterLab cannot start.
So a framed launch answers with a small page that checks both: the login cookie came back, and
localStorage works. If so, it goes on to the notebook; if not, it offers a button that finishes
the launch in a new tab, where both are first-party. The button carries a one-time token,
valid for two minutes, that logs that one user in once.
"""

import html
import json
import secrets
import time

from jupyterhub.handlers import BaseHandler
from tornado.web import HTTPError

RESUME_SECONDS = 120
_tokens = {}  # token -> (login, next_url, expires)


def issue_token(login, next_url, now=None):
    now = time.time() if now is None else now
    for token in [t for t, (_, _, expires) in _tokens.items() if expires < now]:
        del _tokens[token]
    token = secrets.token_urlsafe(32)
    _tokens[token] = (login, next_url, now + RESUME_SECONDS)
    return token


def redeem_token(token, now=None):
    """(login, next_url) for a valid token, which can never be used again; None otherwise."""
    now = time.time() if now is None else now
    entry = _tokens.pop(token, None)
    if entry is None or entry[2] < now:
        return None
    return entry[0], entry[1]


def is_framed(request):
    """Browsers say where a navigation will be shown (Fetch Metadata)."""
    return request.headers.get("Sec-Fetch-Dest") in ("iframe", "frame")


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Opening your notebook</title>
<style>body{{font-family:sans-serif;margin:2em;}} .button{{display:inline-block;padding:.8em 1.4em;
background:#1976d2;color:#fff;border-radius:4px;text-decoration:none;font-size:1.1em}}</style></head>
<body>
<p id="opening">Opening your notebook&hellip;</p>
<div id="blocked" hidden>
  <p>Your browser does not let the notebook run inside this course page (it blocks
  third-party cookies and storage, as private windows do).</p>
  <p><a id="new-tab" class="button" href="{resume_url}" target="_blank" rel="noopener">Open in a new tab</a></p>
</div>
<script>
function storageWorks() {{
  try {{ localStorage.setItem("hub-probe", "1"); localStorage.removeItem("hub-probe"); return true; }}
  catch (error) {{ return false; }}
}}
function offerNewTab() {{
  document.getElementById("opening").hidden = true;
  document.getElementById("blocked").hidden = false;
}}
if (!storageWorks()) {{
  offerNewTab();
}} else {{
  fetch({session_url}, {{credentials: "same-origin"}}).then(function (response) {{
    if (response.ok) {{ window.location.replace({next_url}); return; }}
    offerNewTab();
  }}).catch(offerNewTab);
}}
</script>
</body></html>
"""


def script_string(value):
    """A JavaScript string literal that stays one inside <script>: JSON alone would let a
    "</script>" in the value (a launch's next URL may carry one in its query) end the script."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def framed_page(base_url, login, next_url):
    token = issue_token(login, next_url)
    return PAGE.format(
        resume_url=html.escape(f"{base_url}hub/lti/resume?token={token}"),
        session_url=script_string(f"{base_url}hub/lti/session"),
        next_url=script_string(next_url),
    )


class SessionCheckHandler(BaseHandler):
    """GET /hub/lti/session: 200 if the login cookie came with the request, else 401."""

    def get(self):
        self.set_header("Cache-Control", "no-store")
        if self.current_user is None:
            raise HTTPError(401, "no hub session in this browser context")
        self.write({"name": self.current_user.name})


class ResumeHandler(BaseHandler):
    """GET /hub/lti/resume?token=...: finish a framed launch in a top-level tab."""

    def get(self):
        redeemed = redeem_token(self.get_argument("token", ""))
        if redeemed is None:
            raise HTTPError(400, "This link has expired or was used already: open the course page again.")
        login, next_url = redeemed
        user = self.find_user(login)
        if user is None:
            raise HTTPError(400, "unknown user")
        self.set_login_cookie(user)
        self.redirect(next_url)
