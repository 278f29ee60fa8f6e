"""Who gets which status in `hubsetup grades push` (the gradebook and the sender are stand-ins
here; tests/integration/test_grades.py runs the real ones)."""

from hubsetup import grades
from hubsetup.lti.lti11_outcomes import LTI11Sender, Outcome

LAUNCH = {"consumer_key": "k", "score_url": "http://lms/outcomes", "score_for": "sid",
          "pushed_score": None, "protocol": "lti11"}


def row(student, score, submitted=True, max_score=2.0):
    return {"course": "c", "assignment": "ps1", "student": student, "submitted": submitted,
            "score": score, "max_score": max_score}


def statuses(rows, launches, **kwargs):
    sent = []

    def send(url, key, secret, sourcedid, score):
        sent.append((sourcedid, score))
        return Outcome(sourcedid != "bad", "ok" if sourcedid != "bad" else "LMS said failure: nope")

    pusher = grades.Pusher({"lti11": LTI11Sender({"k": "s"}, post=send)}, **kwargs)
    results = [pusher.push(student, launch, score) for student, launch, score in grades.plan_push(rows, launches)]
    return {r.student: (r.status, r.score) for r in results}, sent


def test_each_case_gets_its_status():
    rows = [row("full", 2.0), row("half", 1.0), row("nolaunch", 2.0), row("unsubmitted", 0.0, submitted=False),
            row("rejected", 2.0), row("ungraded_component", 1.0)]
    launches = [dict(LAUNCH, login="full", score_for="s-full"), dict(LAUNCH, login="half", score_for="s-half"),
                dict(LAUNCH, login="unsubmitted"), dict(LAUNCH, login="rejected", score_for="bad"),
                dict(LAUNCH, login="ungraded_component", score_url=""), dict(LAUNCH, login="launched_only")]
    result, sent = statuses(rows, launches)
    assert result == {
        "full": ("sent", 1.0), "half": ("sent", 0.5), "nolaunch": ("no launch yet", 1.0),
        "unsubmitted": ("not graded", None), "rejected": ("failed", 1.0),
        "ungraded_component": ("component not scored", 0.5), "launched_only": ("not graded", None),
    }
    assert sorted(sent) == [("bad", 1.0), ("s-full", 1.0), ("s-half", 0.5)]


def test_unknown_consumer_fails_without_sending():
    result, sent = statuses([row("a", 2.0)], [dict(LAUNCH, login="a", consumer_key="gone")])
    assert result == {"a": ("failed", 1.0)} and sent == []


def test_table_lists_every_student_and_counts():
    table = grades.push_table([grades.PushResult("eleve1", "sent", 1.0, "ok"), grades.PushResult("eleve2", "no launch yet")])
    lines = table.splitlines()
    assert lines[1].split() == ["eleve1", "1.0000", "sent", "ok"]
    assert lines[2].split() == ["eleve2", "no", "launch", "yet"]
    assert lines[-1] == "1 no launch yet, 1 sent"


def test_a_launch_of_a_protocol_without_a_sender_fails_without_sending():
    result, sent = statuses([row("a", 2.0)], [dict(LAUNCH, login="a", protocol="lti13")])
    assert result == {"a": ("failed", 1.0)} and sent == []


def test_only_changed_scores_are_sent_again():
    result, sent = statuses([row("a", 2.0), row("b", 1.0)], [dict(LAUNCH, login="a", pushed_score=1.0),
                                                             dict(LAUNCH, login="b", pushed_score=1.0)], only_changed=True)
    assert result == {"a": ("unchanged", 1.0), "b": ("sent", 0.5)} and sent == [("sid", 0.5)]
