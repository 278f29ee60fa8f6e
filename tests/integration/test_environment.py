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


@pytest.mark.parametrize("file, line, name, message", [
    ("extra-requirements.txt", "numpy\nno-such-package-teaching-hub==1.0\n", "no-such-package-teaching-hub",
     "line 3: pip cannot install 'no-such-package-teaching-hub"),
    ("extra-packages.txt", "no-such-debian-package-teaching-hub\n", "no-such-debian-package-teaching-hub",
     "line 2: Debian has no package 'no-such-debian-package-teaching-hub'"),
])
def test_an_extra_package_that_does_not_exist_stops_the_build_with_its_name(stack, tmp_path, file, line, name, message):
    """A real `docker build` of the image's extras step, on top of the test image."""
    (tmp_path / file).write_text("# a school's list\n" + line)
    kind = "python" if file.endswith("requirements.txt") else "debian"
    arguments = f"/tmp/{file} /tmp/requirements.txt" if kind == "python" else f"/tmp/{file}"
    (tmp_path / "Dockerfile").write_text(
        "FROM teaching-hub:test\n"
        f"COPY {file} /tmp/{file}\n"
        "RUN pip freeze > /tmp/requirements.txt\n"
        f"RUN install-extras {kind} {arguments}\n")
    result = subprocess.run(["docker", "build", "--no-cache", "-t", "teaching-hub-extras-test:fails", str(tmp_path)],
                            capture_output=True, text=True, timeout=900, env=dict(os.environ, DOCKER_BUILDKIT="0"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{file}: {message}" in output, output[-3000:]
    assert name in output
