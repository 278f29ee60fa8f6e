"""Host tools' one way to run a command: a failure says the command as a shell reads it."""

import pytest

from harness import commands


def test_a_failed_command_is_named_as_a_shell_reads_it_with_its_status_and_output():
    with pytest.raises(AssertionError) as error:
        commands.run(["sh", "-c", "echo out; echo err >&2; exit 3", "a b"], error=AssertionError)
    assert str(error.value) == "`sh -c 'echo out; echo err >&2; exit 3' 'a b'` failed (3):\nout\nerr"


def test_an_unchecked_failure_is_returned():
    assert commands.run(["false"], check=False).returncode == 1
