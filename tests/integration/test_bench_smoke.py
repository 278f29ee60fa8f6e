"""scripts/bench against the session's stack: a small storm runs clean and leaves its results."""

import json
import os
import subprocess

from harness.stack import REPO

USERS = 3


def test_small_storm_reaches_every_kernel_and_writes_its_results(stack, tmp_path):
    out = tmp_path / "storm"
    command = [os.path.join(REPO, "scripts", "bench"), "storm", "--users", str(USERS), "--url", stack.url,
               "--project", stack.project, "--out", str(out), "--timeout", "90", "--floor-runs", "1"]
    run = subprocess.run(command, env=stack.env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((out / "result.json").read_text())
    summary = result["summary"]
    assert summary["failures"] == 0, result["errors"]
    assert summary["ready_s"]["n"] == summary["first_result_s"]["n"] == USERS
    assert all(s["first_result_s"] >= s["ready_s"] > 0 for s in result["students"])
    assert result["floor"]["server_cpu_s"] > 0 and summary["target_bound_s"] > 0
    assert summary["hub_peak_rss_mb"] > 0 and summary["servers_peak_total_mb"] > 0
    assert (out / "storm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "LTI launch" in (out / "hub.log").read_text()
    # the floor's and the students' servers are stopped again
    assert result["cleanup"]["servers_stopped"] == USERS + 1 and not result["cleanup"]["still_running"]
    assert result["cleanup"]["system_users_removed"] == USERS + 1, result["cleanup"]


def test_the_launch_bench_times_both_protocols_and_writes_its_results(stack, tmp_path):
    out = tmp_path / "launch"
    command = [os.path.join(REPO, "scripts", "bench"), "launch", "--users", "2", "--url", stack.url,
               "--project", stack.project, "--out", str(out)]
    run = subprocess.run(command, env=stack.env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((out / "result.json").read_text())
    for protocol in ("lti11", "lti13"):
        assert result[protocol]["alone"]["failed"] == result[protocol]["at_once"]["failed"] == 0, result
        assert result[protocol]["at_once"]["n"] == 2 and result[protocol]["at_once"]["max"] > 0
    assert "LTI launch (lti13)" in stack.logs()
