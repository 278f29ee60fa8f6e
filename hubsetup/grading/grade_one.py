"""One submission graded on arrival, run by `on_submit` as one of the course's instructors:
nbgrader's collect (that student only, newest submission), autograde (in the sandbox: the
configuration here puts it there whatever the course's own says), and the student's feedback
generated and released if asked. Request on standard input, the score on standard output.
"""

import json
import os
import sys

from . import AUTOGRADE_PREPROCESSORS

NICENESS = 10


def configuration(request):
    from nbgrader.apps.baseapp import NbGrader

    os.chdir(request["course_dir"])
    app = NbGrader()
    app.initialize([])  # nbgrader's own search: /etc/jupyter, the teacher's, the course's files
    config = app.config
    config.CourseDirectory.root = request["course_dir"]
    config.CourseDirectory.course_id = request["course"]
    config.CourseDirectory.groupshared = True
    config.Exchange.root = request["exchange"]
    config.Exchange.path_includes_course = True
    config.Autograde.autograde_preprocessors = AUTOGRADE_PREPROCESSORS
    return config


def checked(result, step):
    """nbgrader's result of `step`, or the program stops with its first error line (its last
    one only says to look above)."""
    if not result.get("success"):
        lines = (result.get("error") or "").strip().splitlines() + (result.get("log") or "").strip().splitlines()
        errors = [line for line in lines if "Error" in line or "ERROR" in line] or lines or ["no log"]
        raise SystemExit(f"{step} failed: {errors[0][:400]}")


def grade(request):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.utils import capture_log, temp_attrs

    api = NbGraderAPI(config=configuration(request))
    student, assignment = request["student"], request["assignment"]
    with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student):
        collect = api.exchange.Collect(coursedir=api.coursedir, authenticator=api.authenticator, parent=api)
        collect.update = True
        checked(capture_log(collect), "collect")
    checked(api.autograde(assignment, student, force=True, create=True), "autograde")
    with api.gradebook as gradebook:
        submission = gradebook.find_submission(assignment, student)
        score, max_score = submission.score, submission.max_score
    if request["feedback"]:
        checked(api.generate_feedback(assignment, student, force=True), "generate_feedback")
        checked(api.release_feedback(assignment, student), "release_feedback")
    return {"score": score, "max_score": max_score, "feedback": bool(request["feedback"])}


if __name__ == "__main__":
    # Below students' servers, as the sandbox is: a burst of submissions waits, students don't.
    os.nice(NICENESS)
    print(json.dumps(grade(json.load(sys.stdin))))
