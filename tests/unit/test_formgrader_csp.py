"""The formgrader's script policy: the page's own inline scripts by hash, no other handler."""

import base64
import hashlib

from hubsetup import formgrader_csp

PAGE = b"""<html><head>
<script src="/user/t/formgrader/static/js/formgrade.js"></script>
<script type="text/javascript">
var submission_id = "abc";
</script>
</head><body><img src=x onerror="steal()"><span onclick="toggle_name(true);"></span></body></html>"""


def sha(code):
    return "'sha256-" + base64.b64encode(hashlib.sha256(code).digest()).decode() + "'"


def test_inline_scripts_of_the_page_are_allowed_by_hash_and_nothing_else_inline():
    policy = formgrader_csp.script_policy(PAGE)
    assert sha(b'\nvar submission_id = "abc";\n') in policy
    assert sha(b"toggle_name(true);") in policy  # a handler of nbgrader's template
    assert sha(b"steal()") not in policy
    assert "'unsafe-inline'" not in policy and "object-src 'none'" in policy
    # the script loaded by src is allowed as 'self', not hashed
    assert policy.count("'sha256-") == 1 + len(formgrader_csp.TEMPLATE_HANDLERS)
