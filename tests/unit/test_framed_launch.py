"""The framed launch's one-time resume tokens and its page (the browser flow runs in
tests/integration/test_browser.py)."""

import re
from types import SimpleNamespace

from hubsetup.lti import framed_launch


def test_a_token_opens_once_only_with_its_proof_and_only_in_time():
    token, proof = framed_launch.issue_token("alice", "/hub/user-redirect/lab", now=1000)
    assert framed_launch.redeem_token(token, "not-the-proof", now=1001) is None
    assert framed_launch.redeem_token(token, None, now=1001) is None
    assert framed_launch.redeem_token(token, proof, now=1001) == ("alice", "/hub/user-redirect/lab")
    assert framed_launch.redeem_token(token, proof, now=1002) is None  # used
    late, late_proof = framed_launch.issue_token("bob", "/hub/home", now=1000)
    assert framed_launch.redeem_token(late, late_proof, now=1000 + framed_launch.RESUME_SECONDS + 1) is None


def test_the_page_keeps_a_hostile_next_url_inside_its_script_and_the_proof_out_of_the_link():
    page = framed_launch.framed_page("/", "alice", "/hub/user-redirect/lab?x=</script><script>alert(1)</script>")
    assert "</script><script>alert(1)" not in page
    link = re.search(r'href="([^"]*lti/resume[^"]*)"', page).group(1)
    token = link.split("token=")[1]
    (proof,) = [entry[3] for t, entry in framed_launch._tokens.items() if t == token]
    assert proof not in link and proof in page  # handed over by postMessage, never in the URL


def test_only_a_navigation_into_a_frame_is_framed():
    def request(dest):
        return SimpleNamespace(headers={"Sec-Fetch-Dest": dest} if dest else {})
    assert framed_launch.is_framed(request("iframe")) and framed_launch.is_framed(request("frame"))
    assert not framed_launch.is_framed(request("document")) and not framed_launch.is_framed(request(None))
