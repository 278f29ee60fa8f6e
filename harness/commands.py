"""Running a command from a host tool (tests, benchmarks): one way, one error message."""

import shlex
import subprocess


def run(command, *, error=RuntimeError, check=True, timeout=600, **kwargs):
    """subprocess.run with its output captured as text; a failure raises `error` saying the
    command as a shell would read it, its exit status and what it printed."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise error(failure(command, result))
    return result


def failure(command, result):
    printed = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part and part.strip())
    return f"`{shlex.join(command)}` failed ({result.returncode})" + (f":\n{printed}" if printed else "")
