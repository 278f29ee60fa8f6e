"""The course environment in a user's server (local mode; the docker and swarm modes' tests
run the same probe), and a school's extra packages: one that cannot be installed stops the
build with its name."""

import os
import subprocess

import pytest

from harness import kernels
from harness.stack import HubClient


def test_every_course_library_imports_and_a_chinese_title_renders_without_missing_glyphs(stack):
    session = HubClient(stack, "eleve1")
    assert session.log_in("eleve1pw")
    session.start_server()
    print(kernels.check_course_environment(session))
    # the server's own environment stays without them: its start never scans them
    assert stack.exec("/opt/venv/bin/python", "-c", "import numpy", check=False).returncode != 0


@pytest.mark.parametrize("file, line, name, message", [
    ("extra-requirements.txt", "numpy\nno-such-package-teaching-hub==1.0\n", "no-such-package-teaching-hub",
     "line 3: pip cannot install 'no-such-package-teaching-hub"),
    ("extra-packages.txt", "no-such-debian-package-teaching-hub\n", "no-such-debian-package-teaching-hub",
     "line 2: Debian has no package 'no-such-debian-package-teaching-hub'"),
])
def test_an_extra_package_that_does_not_exist_stops_the_build_with_its_name(stack, tmp_path, file, line, name, message):
    """A real `docker build` of the image's extras step, on top of the test image."""
    (tmp_path / file).write_text("# a school's list\n" + line)
    # as the image's Dockerfile runs it: Python packages go into the course environment
    if file.endswith("requirements.txt"):
        step = f"/opt/course/bin/python /usr/local/bin/install-extras python /tmp/{file} /tmp/requirements.txt"
    else:
        step = f"install-extras debian /tmp/{file}"
    (tmp_path / "Dockerfile").write_text(
        "FROM teaching-hub:test\n"
        f"COPY {file} /tmp/{file}\n"
        "RUN /opt/course/bin/pip freeze > /tmp/requirements.txt\n"
        f"RUN {step}\n")
    result = subprocess.run(["docker", "build", "--no-cache", "-t", "teaching-hub-extras-test:fails", str(tmp_path)],
                            capture_output=True, text=True, timeout=900, env=dict(os.environ, DOCKER_BUILDKIT="0"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{file}: {message}" in output, output[-3000:]
    assert name in output


def test_a_new_teacher_finds_the_examples_and_a_sample_assignment_that_grades(stack):
    """prof1 of the sample accounts.csv: given once at the first sync, as prof1."""
    from . import nbgrader_cycle

    owners = stack.exec("stat", "-c", "%U", "/home/prof1/examples/2-dataframe.ipynb",
                        "/srv/nbgrader/courses/cours_prof1/source/sample_ps/sample_ps.ipynb").stdout.split()
    assert owners == ["prof1", "prof1"]
    teacher, student = HubClient(stack, "prof1"), HubClient(stack, "eleve1")
    assert teacher.log_in("wawa") and student.log_in("eleve1pw")
    teacher.start_server(course="cours_prof1")
    student.start_server()
    output, state = kernels.execute(teacher, "import os\nos.chdir(os.path.expanduser('~/examples'))\n"
                                    "import pandas as pd\nprint(len(pd.read_csv('prices.csv')), 'rows')")
    assert state == "idle" and "5 rows" in output, output
    for step in ("", "/assign", "/release"):
        method = "PUT" if not step else "POST"
        nbgrader_cycle.ok(teacher.server_api(method, f"formgrader/api/assignment/sample_ps{step}",
                                             **({"json": {}} if method == "PUT" else {})))
    nbgrader_cycle.assignment_action(student, "fetch", "cours_prof1", "sample_ps")
    path = "api/contents/cours_prof1/sample_ps/sample_ps.ipynb"
    notebook = nbgrader_cycle.ok(student.server_api("GET", path))["content"]
    (answer,) = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "answer"]
    answer["source"] = "def simple_return(p0, p1):\n    return p1 / p0 - 1\n"
    nbgrader_cycle.put_contents(student, "cours_prof1/sample_ps/sample_ps.ipynb",
                                {"type": "notebook", "format": "json", "content": notebook})
    nbgrader_cycle.assignment_action(student, "submit", "cours_prof1", "sample_ps")
    scores = nbgrader_cycle.teacher_grades_and_returns_feedback(teacher, "sample_ps", ["eleve1"])
    assert scores == {"eleve1": (3.0, 3.0)}
    # given once: a sync does not bring back what the teacher removed
    stack.exec("rm", "-rf", "/home/prof1/examples")
    stack.sync()
    assert stack.exec("test", "-e", "/home/prof1/examples", check=False).returncode != 0
