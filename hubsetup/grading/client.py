"""The teacher's side of the broker's protocol: what goes to a sandbox, and what of its answer
comes back into the teacher's notebook.

Only each code cell's outputs and execution count come back, into the teacher's own copy: the
cells, their sources and their nbgrader metadata never do. A code cell the run did not reach,
or stopped in, gets an error output naming why (a limit), so it scores zero instead of the full
marks an empty output would give.
"""

import base64
import errno
import json
import os
import socket
import stat

import nbformat

from .. import safe_paths
from .broker import MAX_OUTPUT

MAX_FOLDER = 128 << 20
MAX_REPLY = MAX_OUTPUT + (16 << 20)
OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}


class SandboxError(Exception):
    pass


def folder_files(folder):
    """Every regular file below `folder` as [relative path, base64], links skipped, at most
    MAX_FOLDER bytes: the sandbox's only copy of the submission."""
    files, total = [], 0
    for root, _, names in os.walk(folder):  # links to folders are listed, never entered
        for name in sorted(names):
            path = os.path.join(root, name)
            try:
                fd = os.open(path, os.O_RDONLY | safe_paths.FILE_OPEN_FLAGS)
            except OSError as error:
                if error.errno == errno.ELOOP:  # a link
                    continue
                raise
            with os.fdopen(fd, "rb") as file:
                if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                    continue
                content = file.read(MAX_FOLDER - total + 1)
            total += len(content)
            if total > MAX_FOLDER:
                raise SandboxError(f"{folder} holds more than {MAX_FOLDER >> 20} MB: too much to grade")
            files.append([os.path.relpath(path, folder), base64.b64encode(content).decode()])
    return files


def ask_broker(path, request):
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        connection.sendall(json.dumps(request).encode())
        connection.shutdown(socket.SHUT_WR)
        chunks, size = [], 0
        while chunk := connection.recv(1 << 20):
            size += len(chunk)
            if size > MAX_REPLY:
                raise SandboxError("the grading service's answer is too large")
            chunks.append(chunk)
    except OSError as error:
        raise SandboxError(f"the grading service does not answer ({path}: {error}); "
                           "nothing was run (ask the hub's admin)") from None
    finally:
        connection.close()
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        raise SandboxError("the grading service's answer is not JSON") from None
    if not isinstance(reply, dict):
        raise SandboxError("the grading service's answer is not a JSON object")
    if reply.get("error"):
        raise SandboxError(f"the grading service refused: {reply['error']}")
    return reply


def stopped_output(why):
    return nbformat.v4.new_output("error", ename="GradingStopped", evalue=f"not run: {why}",
                                  traceback=[f"GradingStopped: this cell was not run to its end: {why}"])


def take_outputs(nb, reply):
    """Into `nb` (the teacher's copy): each code cell's outputs from the reply, if they are a
    notebook's outputs; nothing else of the reply."""
    cells = reply.get("cells") if isinstance(reply.get("cells"), dict) else {}
    why = reply.get("stopped") or "the run ended before it"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        ran = cells.get(str(index))
        outputs = valid_outputs(ran.get("outputs")) if isinstance(ran, dict) else None
        if outputs is None:
            cell.outputs = [stopped_output(why if ran is None else "its outputs were not a notebook's")]
            cell.execution_count = None
            continue
        if ran.get("unfinished"):  # what it printed, then why it stopped: it scores zero
            outputs.append(stopped_output(why))
        cell.outputs = outputs
        count = ran.get("execution_count")
        cell.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None


def valid_outputs(outputs):
    """`outputs` as nbformat nodes if they are valid notebook outputs, else None."""
    if not isinstance(outputs, list):
        return None
    cell = nbformat.v4.new_code_cell(outputs=[])
    try:
        cell.outputs = [nbformat.from_dict(output) for output in outputs]
        if any(output.get("output_type") not in OUTPUT_TYPES for output in cell.outputs):
            return None
        notebook = nbformat.v4.new_notebook(cells=[cell])
        nbformat.validate(notebook)
    except (nbformat.ValidationError, AttributeError, TypeError, ValueError):
        return None
    return cell.outputs
