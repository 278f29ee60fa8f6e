"""A Content-Security-Policy on the formgrader's pages, where a teacher reads students' work.

hubsetup.notebook_html cleans what the formgrader shows of a student's notebook; this is the
second wall behind it. A page may run scripts from the server itself and the inline scripts
nbgrader's templates wrote into that page (allowed by their hash), and no event handler but
the few its templates use: markup of a student's that got past the cleaner runs nothing as the
teacher. A server extension (jupyter_server loads it from `jpserver_extensions`).
"""

import base64
import hashlib
import re

# Inline script elements (no src): by now, only those of nbgrader's and nbconvert's templates.
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
# The event handlers nbgrader 0.9's formgrader templates put on their buttons.
TEMPLATE_HANDLERS = ("toggle_name(true);", "toggle_name(false);", "toggleAllNames()")
# Where nbconvert's templates load MathJax and require.js from.
SCRIPT_HOSTS = ("https://cdnjs.cloudflare.com", "https://cdn.jsdelivr.net")


def source_hash(code):
    return "'sha256-" + base64.b64encode(hashlib.sha256(code).digest()).decode() + "'"


def script_policy(page):
    """The CSP directives for one formgrader page (bytes of its HTML)."""
    allowed = {source_hash(code) for code in INLINE_SCRIPT.findall(page)}
    allowed |= {source_hash(handler.encode()) for handler in TEMPLATE_HANDLERS}
    # 'unsafe-eval': MathJax 2 (nbconvert's templates) runs its inline configuration with it;
    # it lets no markup run anything by itself.
    sources = ["'self'", "'unsafe-eval'", "'unsafe-hashes'", *sorted(allowed), *SCRIPT_HOSTS]
    return f"script-src {' '.join(sources)}; object-src 'none'; base-uri 'self'"


def transform_for(prefix):
    """An OutputTransform adding the policy to HTML pages below `prefix` (the formgrader)."""
    from tornado.web import OutputTransform  # the server's; this module's rules test without it

    class FormgraderPolicy(OutputTransform):
        def __init__(self, request):
            self.applies = request.path.startswith(prefix)

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if self.applies and headers.get("Content-Type", "").startswith("text/html"):
                # A page sent in pieces cannot be hashed whole: it gets no inline script at all.
                directives = script_policy(chunk) if finishing else "script-src 'self'; object-src 'none'"
                existing = headers.get("Content-Security-Policy")
                headers["Content-Security-Policy"] = f"{existing}; {directives}" if existing else directives
            return status_code, headers, chunk

    return FormgraderPolicy


def _jupyter_server_extension_points():
    return [{"module": "hubsetup.formgrader_csp"}]


def _load_jupyter_server_extension(serverapp):
    prefix = serverapp.base_url.rstrip("/") + "/formgrader"
    serverapp.web_app.add_transform(transform_for(prefix))
