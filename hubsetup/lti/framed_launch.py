"""Launches inside an LMS frame whose browser refuses third-party cookies and storage.

Browsers that block third-party cookies (Chrome's incognito windows by default, Safari, any
browser set to) also block the frame's localStorage, without which JupyterLab cannot start.
So a framed launch answers with a small page that checks both: the login cookie came back, and
localStorage works. If so, it goes on to the notebook; if not, it offers a button that finishes
the launch in a new tab, where both are first-party.

The new tab's link carries a one-time token, valid for two minutes, but the token alone logs
no one in: a link copied into another browser would log that browser into the launcher's
account (login CSRF). The tab must also show a proof that only the framed page holds, which
that page hands over by postMessage to the very window it opened, on the hub's own origin;
the tab then posts token and proof, with its XSRF field, to finish the launch.
"""

import hmac
import html
import json
import secrets
import time

from jupyterhub.handlers import BaseHandler
from tornado.web import HTTPError

RESUME_SECONDS = 120
_tokens = {}  # token -> (login, next_url, expires, proof)


def issue_token(login, next_url, now=None):
    """(token, proof) for one resume of this launch."""
    now = time.time() if now is None else now
    for token in [t for t, entry in _tokens.items() if entry[2] < now]:
        del _tokens[token]
    token, proof = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    _tokens[token] = (login, next_url, now + RESUME_SECONDS, proof)
    return token, proof


def redeem_token(token, proof, now=None):
    """(login, next_url) for a valid token shown with its proof, which can never be used
    again; None otherwise."""
    now = time.time() if now is None else now
    entry = _tokens.get(token)
    if entry is None or entry[2] < now or not hmac.compare_digest(entry[3], proof or ""):
        return None
    del _tokens[token]
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
  <p><a id="new-tab" class="button" href="{resume_url}" target="_blank">Open in a new tab</a></p>
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
// The new tab asks this page, and only this page, for the proof that finishes the launch.
document.getElementById("new-tab").addEventListener("click", function (event) {{
  event.preventDefault();
  var tab = window.open(this.href, "_blank");
  window.addEventListener("message", function (message) {{
    if (tab && message.source === tab && message.origin === window.location.origin && message.data === "hub-resume-proof") {{
      tab.postMessage({{hubResumeProof: {proof}}}, window.location.origin);
    }}
  }});
}});
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
    token, proof = issue_token(login, next_url)
    return PAGE.format(
        resume_url=html.escape(f"{base_url}hub/lti/resume?token={token}"),
        session_url=script_string(f"{base_url}hub/lti/session"),
        next_url=script_string(next_url),
        proof=script_string(proof),
    )


RESUME_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Opening your notebook</title>
<style>body{{font-family:sans-serif;margin:2em;}}</style></head>
<body>
<p id="opening">Opening your notebook&hellip;</p>
<p id="refused" hidden>This link only works in the browser tab that the course page opened.
Go back to your course page and click <em>Open in a new tab</em> again.</p>
<form id="resume" method="post" action="{action}">
<input type="hidden" name="token" value="{token}"><input type="hidden" name="proof" id="proof" value="">
{xsrf_field}</form>
<script>
window.addEventListener("message", function (message) {{
  if (message.source === window.opener && message.origin === window.location.origin
      && message.data && message.data.hubResumeProof) {{
    document.getElementById("proof").value = message.data.hubResumeProof;
    document.getElementById("resume").submit();
  }}
}});
if (window.opener) {{ window.opener.postMessage("hub-resume-proof", window.location.origin); }}
setTimeout(function () {{
  document.getElementById("opening").hidden = true;
  document.getElementById("refused").hidden = false;
}}, 5000);
</script>
</body></html>
"""


class SessionCheckHandler(BaseHandler):
    """GET /hub/lti/session: 200 if the login cookie came with the request, else 401."""

    def get(self):
        self.set_header("Cache-Control", "no-store")
        if self.current_user is None:
            raise HTTPError(401, "no hub session in this browser context")
        self.write({"name": self.current_user.name})


class ResumeHandler(BaseHandler):
    """/hub/lti/resume: finish a framed launch in a top-level tab.

    GET shows the page that asks the framed page for its proof; POST (token, proof, XSRF
    field, from this origin only) logs the launch's user in."""

    def get(self):
        self.set_header("Cache-Control", "no-store")
        self.write(RESUME_PAGE.format(
            action=html.escape(f"{self.base_url}hub/lti/resume"),
            token=html.escape(self.get_argument("token", "")),
            xsrf_field=self.xsrf_form_html(),
        ))

    def post(self):
        # Browsers say where a request comes from; a form posted from another site is refused
        # here as well as by the XSRF check.
        if self.request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
            raise HTTPError(403, "a launch is finished only from the hub's own page")
        redeemed = redeem_token(self.get_argument("token", ""), self.get_argument("proof", ""))
        if redeemed is None:
            raise HTTPError(400, "This link has expired, was used already, or was opened outside the course "
                                 "page's tab: open the course page again.")
        login, next_url = redeemed
        user = self.find_user(login)
        if user is None:
            raise HTTPError(400, "unknown user")
        self.set_login_cookie(user)
        self.redirect(next_url)
