"""What a teacher may link from the LMS into their course (Deep Linking), read as that teacher
(run by `as_instructor`): the course's published lesson notebooks, and its released nbgrader
assignments with their points (from the gradebook). Request on standard input, JSON out."""

import json
import os
import sys


def choices(request):
    from hubsetup import lesson_server, materials

    course, exchange = request["course"], request["exchange"]
    lessons = sorted(path for path in materials.current_files(materials.published_root(exchange, course))
                     if path.endswith(".ipynb"))
    outbound = os.path.join(exchange, course, "outbound")
    released = sorted(name for name in (os.listdir(outbound) if os.path.isdir(outbound) else [])
                      if lesson_server.is_released(course, name, root=exchange))
    return {"lessons": lessons, "assignments": [[name, max_score(request["course_dir"], course, name)]
                                                 for name in released]}


def max_score(course_dir, course, assignment):
    """The assignment's points in the gradebook, or None (not in it yet)."""
    from nbgrader.api import Gradebook, MissingEntry

    path = os.path.join(course_dir, "gradebook.db")
    if not os.path.isfile(path):
        return None
    with Gradebook(f"sqlite:///{path}", course_id=course) as gradebook:
        try:
            return gradebook.find_assignment(assignment).max_score or None
        except MissingEntry:
            return None


if __name__ == "__main__":
    print(json.dumps(choices(json.load(sys.stdin))))
