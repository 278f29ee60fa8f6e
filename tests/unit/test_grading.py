"""The grading sandbox's protocol: what the teacher's side takes from a run's answer, how the
broker reads a run (a real child process standing in for the sandbox), and the settings."""

import os
import subprocess
import sys
import textwrap

import nbformat
import pytest

from hubsetup import registry
from hubsetup.grading import broker, client, on_submit
from hubsetup.settings import Settings


def notebook():
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def add(a, b):\n    return a + b"),
        nbformat.v4.new_markdown_cell("# words"),
        nbformat.v4.new_code_cell("assert add(1, 2) == 3", metadata={"nbgrader": {"grade": True, "points": 1}}),
    ])


STREAM = {"output_type": "stream", "name": "stdout", "text": "hello\n"}


def test_only_outputs_come_back_and_unreached_cells_get_an_error_naming_why():
    nb = notebook()
    sources = [cell.source for cell in nb.cells]
    reply = {"cells": {"0": {"outputs": [STREAM], "execution_count": 1,
                             "source": "forged", "metadata": {"nbgrader": {"points": 99}}}},
             "stopped": "the CPU time limit (120 s)"}
    client.take_outputs(nb, reply)
    assert [cell.source for cell in nb.cells] == sources
    assert nb.cells[0].outputs == [STREAM] and nb.cells[0].execution_count == 1
    assert nb.cells[2].metadata == {"nbgrader": {"grade": True, "points": 1}}
    (stopped,) = nb.cells[2].outputs
    assert stopped.output_type == "error" and "the CPU time limit (120 s)" in stopped.evalue
    assert nb.cells[2].execution_count is None
    nbformat.validate(nb)


def test_the_cell_a_run_stopped_in_keeps_what_it_printed_and_scores_zero():
    nb = notebook()
    client.take_outputs(nb, {"cells": {"0": {"outputs": [STREAM], "unfinished": True}}, "stopped": "the memory limit"})
    assert nb.cells[0].outputs[0] == STREAM and nb.cells[0].outputs[1].ename == "GradingStopped"
    assert "the memory limit" in nb.cells[2].outputs[0].evalue


@pytest.mark.parametrize("outputs", [
    "not a list", [{"output_type": "nonsense"}], [{"output_type": "stream"}], [42],
    [{"output_type": "execute_result", "data": {}, "metadata": {}, "execution_count": "x"}],
])
def test_outputs_that_are_not_a_notebooks_are_refused(outputs):
    nb = notebook()
    client.take_outputs(nb, {"cells": {"0": {"outputs": outputs, "execution_count": True}, "2": {"outputs": []}}})
    assert nb.cells[0].outputs[0].ename == "GradingStopped" and "not a notebook's" in nb.cells[0].outputs[0].evalue
    assert nb.cells[0].execution_count is None
    assert nb.cells[2].outputs == []  # ran and printed nothing: full marks, as nbgrader gives
    nbformat.validate(nb)


def test_a_reply_without_cells_leaves_every_code_cell_stopped():
    nb = notebook()
    client.take_outputs(nb, {"cells": "junk"})
    assert all(cell.outputs[0].ename == "GradingStopped" for cell in nb.cells if cell.cell_type == "code")


def test_the_folder_goes_without_links_and_within_its_size(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.csv").write_text("1,2\n")
    (tmp_path / "secret").write_text("solutions")
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    (tmp_path / "linked-dir").symlink_to(tmp_path / "data")
    names = [name for name, _ in client.folder_files(str(tmp_path))]
    assert sorted(names) == ["data/prices.csv", "secret"]


def test_a_folder_too_large_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(client, "MAX_FOLDER", 10)
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(client.SandboxError, match="more than"):
        client.folder_files(str(tmp_path))


def test_no_grading_service_is_a_clear_error_and_nothing_runs(tmp_path):
    with pytest.raises(client.SandboxError, match="does not answer.*nothing was run"):
        client.ask_broker(str(tmp_path / "missing.sock"), {})


class ChildSandbox:
    """A real child process in place of a sandbox: `program` is what the sandbox would run."""

    def __init__(self, program):
        self.program = program

    def start(self, limits):
        return subprocess.Popen([sys.executable, "-c", textwrap.dedent(self.program)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish(self, process, ended=True):
        try:
            return process.wait(timeout=5 if ended else 0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None


LIMITS = {"cpu_seconds": 120, "wall_seconds": 2, "memory": 2 << 30, "processes": 64, "file_size": 1 << 20}


def run(program, limits=LIMITS):
    return broker.Run(ChildSandbox(program), limits, {"notebook": {}}).execute()


def test_a_run_gives_each_cells_outputs_and_the_log():
    reply = run("""
        import json, sys
        request = json.load(sys.stdin)
        print("not a protocol line")
        print(json.dumps({"cell": 0, "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}]}))
        print("kernel noise", file=sys.stderr)
        print(json.dumps({"finished": True}))
    """)
    assert reply["cells"] == {"0": {"outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}],
                                    "execution_count": None, "unfinished": False}}
    assert reply["stopped"] is None and "kernel noise" in reply["log"]


def test_a_run_past_its_wall_time_is_stopped_and_says_so():
    reply = run("""
        import json, sys, time
        print(json.dumps({"cell": 0, "outputs": []}), flush=True)
        time.sleep(60)
    """)
    assert reply["stopped"] == "the time limit of a whole run (2 s)" and "0" in reply["cells"]
    assert reply["seconds"] < 10


def test_a_run_printing_too_much_is_stopped(monkeypatch):
    monkeypatch.setattr(broker, "MAX_OUTPUT", 1000)
    reply = run("""
        import sys
        while True:
            sys.stdout.write("x" * 100 + "\\n")
    """)
    assert reply["stopped"].startswith("the output limit")


def test_a_run_that_dies_is_described_by_its_status():
    reply = run("import os, signal; os.kill(os.getpid(), signal.SIGXCPU)")
    assert reply["stopped"] == "the CPU time limit (120 s)"
    assert run("raise SystemExit(3)")["stopped"] == "the sandbox ended early (exit status 3)"


def test_courses_graded_on_submit_are_named_or_all():
    settings = Settings.from_env({"AUTOGRADE_ON_SUBMIT": "finance101 intro", "AUTOGRADE_FEEDBACK": ""})
    settings.check()
    assert settings.graded_on_submit("intro") and not settings.graded_on_submit("other")
    assert not settings.feedback_on_submit("intro")
    assert Settings.from_env({"AUTOGRADE_ON_SUBMIT": "*"}).graded_on_submit("anything")
    with pytest.raises(SystemExit, match="AUTOGRADE_ON_SUBMIT: 'Finance' is not a course name"):
        Settings.from_env({"AUTOGRADE_ON_SUBMIT": "Finance 101!"}).check()
    with pytest.raises(SystemExit, match="GRADING_MEMORY"):
        Settings.from_env({"GRADING_MEMORY": "lots"}).check()


@pytest.mark.parametrize("name, parsed", [
    ("alice+ps1+2026-12-03 10:00:00.000000 UTC+a1b2", ("alice", "ps1")),
    ("alice+ps1+2026-12-03", None), ("+ps1+t+r", None), ("alice", None),
])
def test_inbound_folder_names(name, parsed):
    assert on_submit.parse_folder_name(name) == parsed


def course_of(settings, uids, instructors=(), students=()):
    """A registry with these users (login: uid) and course `c`."""
    with registry.connect(settings.registry_path) as db:
        for login, uid in uids.items():
            registry.save_user(db, dict(login=login, uid=uid, origin="csv", active=1, password_hash="",
                                        password_digest=""))
        registry.save_course(db, "c", 3001, 3002)
        for role, logins in (("instructor", instructors), ("student", students)):
            for login in logins:
                registry.add_membership(db, login, "c", role, "csv")


def test_the_broker_answers_only_a_courses_instructors(tmp_path):
    settings = Settings.from_env({"HUB_STATE_DIR": str(tmp_path)})
    course_of(settings, {"prof": 2001, "student": 2002}, instructors=["prof"], students=["student"])
    grading = broker.Broker(settings, sandbox=None)
    assert grading.check_caller(2001, "c") == "prof"
    assert grading.check_caller(0, "c") == "root"
    for uid, course in ((2002, "c"), (2001, "other"), (1_900_000_000, "c")):
        with pytest.raises(broker.Refused, match="not an instructor"):
            grading.check_caller(uid, course)
    with pytest.raises(broker.Refused, match="names no course"):
        grading.check_caller(2001, None)



def test_the_watcher_queues_each_students_newest_own_complete_submission_once(tmp_path, monkeypatch):
    """Real folders as nbgrader's submit leaves them; a newer folder in alice's name made by
    bob, a link and an unfinished submission are never taken for hers."""
    if os.getuid() != 0:
        pytest.skip("needs root to give folders to two users (CI runs as root)")
    settings = Settings.from_env({"HUB_STATE_DIR": str(tmp_path / "state"), "NBGRADER_EXCHANGE": str(tmp_path / "x"),
                                  "AUTOGRADE_ON_SUBMIT": "c"})
    course_of(settings, {"alice": 4001, "bob": 4002})
    inbound = tmp_path / "x" / "c" / "inbound"
    inbound.mkdir(parents=True)

    def submission(name, uid, complete=True):
        folder = inbound / name
        folder.mkdir()
        if complete:
            (folder / "timestamp.txt").write_text("t")
        os.chown(folder, uid, uid)

    submission("alice+ps1+2026-12-03 10:00:00.000000 UTC+a", 4001)
    submission("alice+ps1+2099-01-01 00:00:00.000000 UTC+forged", 4002)
    submission("bob+ps1+2026-12-03 10:00:01.000000 UTC+b", 4002, complete=False)
    (inbound / "alice+ps2+2026-12-03 10:00:00.000000 UTC+l").symlink_to(inbound / "alice+ps1+2026-12-03 10:00:00.000000 UTC+a")
    monkeypatch.setattr(on_submit, "SETTLE", 0)
    watcher = on_submit.Watcher(settings)
    watcher.look()  # first seen
    assert watcher.work.empty()
    watcher.look()  # unchanged since: complete
    assert watcher.work.get_nowait() == ("c", "alice", "ps1") and watcher.work.empty()
    watcher.look()  # recorded: not again
    assert watcher.work.empty()
    with registry.connect(settings.registry_path, write=False) as db:
        assert registry.submission_folders(db, "c") == {("alice", "ps1"): "alice+ps1+2026-12-03 10:00:00.000000 UTC+a"}


def test_the_status_page_tells_each_student_where_their_submissions_are_and_teachers_what_waits(tmp_path):
    from hubsetup.grading import status
    from hubsetup.person_names import PersonName

    settings = Settings.from_env({"HUB_STATE_DIR": str(tmp_path)})
    course_of(settings, {"prof": 2001, "alice": 2002, "bob": 2003, "carol": 2004}, instructors=["prof"],
              students=["alice", "bob", "carol"])
    with registry.connect(settings.registry_path) as db:
        registry.set_name(db, "carol", PersonName(full="Carol <b>Ng</b>"), "csv")
        for login, assignment, arrived in (("bob", "ps1", 100.0), ("alice", "ps1", 200.0), ("alice", "ps2", 50.0),
                                           ("carol", "ps1", 300.0)):
            registry.record_submission(db, "c", login, assignment, f"{login}+{assignment}+t+r", arrived)
        registry.set_submission_state(db, "c", "alice", "ps2", "graded", score=3.5, max_score=4.0, feedback=1)
        registry.set_submission_state(db, "c", "carol", "ps1", "failed", detail="autograde failed: <img src=x>")
        registry.record_launch(db, dict(login="alice", course="c", assignment="ps2", consumer_key="k",
                                        resource_link_id="r", score_url="u", score_for="s",
                                        launched_at=10.0, protocol="lti11", line_items_url=""))
    with registry.connect(settings.registry_path, write=False) as db:
        alice = status.page_of(db, "alice", "en")
        lines = {row["assignment"]: row["lines"] for row in alice["rows"]}
        assert lines["ps1"] == ["Waiting to be graded (1 ahead of yours)"]  # bob's came first
        assert lines["ps2"] == ["Graded: 3.5 out of 4 points",
                                "Feedback ready: in JupyterLab, Nbgrader → Assignment List, then Fetch Feedback."]
        assert alice["waiting"] and alice["taught"] == []
        carol = status.page_of(db, "carol", "fr_FR")
        assert carol["rows"][0]["lines"] == [status.WORDS["fr_FR"]["failed"]]  # the reason is the teacher's
        assert not carol["waiting"]
        assert status.page_of(db, "bob", "en")["rows"][0]["lines"] == ["Waiting to be graded"]

        prof = status.page_of(db, "prof", "zh_CN")
        assert prof["rows"] == []
        [course] = prof["taught"]
        assert course["counts"] == [("ps1", {"graded": 0, "queued": 2, "grading": 0, "failed": 1}),
                                    ("ps2", {"graded": 1, "queued": 0, "grading": 0, "failed": 0})]
        assert [(row["shown"], row["state"]) for row in course["ungraded"]] == [
            ("bob", "queued"), ("alice", "queued"), ("Carol <b>Ng</b> (carol)", "failed")]
        page = status.render(prof, "zh_CN").decode()
        assert '<html lang="zh-CN">' in page and "我的提交" in page and "已评分 0 份，等待中 2 份" in page
        assert "<img" not in page and "<b>" not in page and "&lt;img src=x&gt;" in page
        assert 'http-equiv="refresh"' not in page  # nothing of prof's own waits
        assert 'http-equiv="refresh"' in status.render(alice, "en").decode()
    with registry.connect(settings.registry_path) as db:
        registry.record_push(db, "alice", "c", "ps2", 0.875)
        assert status.page_of(db, "alice", "en")["rows"][-1]["lines"][-1] == "Score sent to your course."


def test_every_language_of_the_status_page_says_everything():
    from hubsetup.grading import status

    for language, words in status.WORDS.items():
        assert set(words) == set(status.WORDS["en"]), language
        assert language in status.HTML_LANG
