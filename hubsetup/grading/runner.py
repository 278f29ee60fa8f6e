"""What a grading sandbox runs, as the sandbox's identity: nbgrader's own `Execute` on one
notebook, with the kernel beside it.

Standard input: a request ({"notebook", "files", "execute"}) from the broker. Standard output:
one JSON line per executed code cell ({"cell": index, "outputs", "execution_count"}, and
"unfinished" for the one the run stopped in), then
{"finished": true} or {"stopped": why}. Nothing here is trusted: the student's code runs with
the same rights and could write anything on these lines; the teacher's side takes only
outputs from them. The kernel's own output goes to standard error, which the broker keeps
the end of.
"""

import base64
import json
import os
import signal
import sys

# The kernel, started by nbclient. ipykernel's pipe for the output of forked children binds
# a TCP port, which a sandbox without network refuses (and libzmq aborts on): off, so forked
# children's prints are lost, nothing else.
KERNEL_START = (
    "from ipykernel import iostream, kernelapp\n"
    "iostream.IOPubThread._setup_pipe_in = lambda thread: setattr(thread, '_pipe_flag', False)\n"
    "kernelapp.launch_new_instance()\n"
)
KERNEL_PYTHON = "/opt/course/bin/python"
# Signals a kernel dies of when it meets one of the sandbox's limits.
STOP_SIGNALS = {
    signal.SIGXCPU: "the CPU time limit", signal.SIGXFSZ: "the file size limit",
    signal.SIGKILL: "a limit (killed: memory, most likely)",
}


def write_files(files, root):
    """The submission's folder, as the teacher's side sent it: [relative path, base64]."""
    for relative, content in files:
        parts = relative.split("/")
        if relative.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"refused file name {relative!r}")
        path = os.path.join(root, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(base64.b64decode(content))


def kernel_stop(executor):
    """Why the kernel died, as far as its exit status tells."""
    process = getattr(getattr(getattr(executor, "km", None), "provisioner", None), "process", None)
    status = process.poll() if process is not None else None
    if status is not None and status < 0:
        return f"the kernel was stopped by {STOP_SIGNALS.get(-status, f'signal {-status}')}"
    return "the kernel died" + (f" (exit status {status})" if status is not None else "")


def executor_class():
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute

    class SandboxedKernel(AsyncKernelManager):
        def __init__(self, **kwargs):
            # ipc sockets in the scratch folder: no network between nbclient and the kernel.
            kwargs.update(transport="ipc", ip=os.path.join(os.getcwd(), ".k"))
            super().__init__(**kwargs)

        @property
        def kernel_spec(self):
            # Whatever kernel the notebook names, the course environment's Python runs it;
            # interrupts by message, as nothing else may signal it.
            return KernelSpec(argv=[KERNEL_PYTHON, "-c", KERNEL_START, "-f", "{connection_file}"],
                              language="python", display_name="Python 3", interrupt_mode="message")

    class StreamingExecute(Execute):
        def preprocess_cell(self, cell, resources, index):
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            except Exception as error:
                # What the cell printed before the kernel died or was given up is kept.
                emit({"cell": index, "outputs": cell.get("outputs", []), "execution_count": None, "unfinished": True})
                if isinstance(error, DeadKernelError):
                    raise DeadKernelError(kernel_stop(self)) from None
                raise
            if cell.cell_type == "code":
                emit({"cell": index, "outputs": cell.outputs, "execution_count": cell.get("execution_count")})
            return cell, resources

    return StreamingExecute, SandboxedKernel


OUT = None


def emit(message):
    OUT.write(json.dumps(message) + "\n")
    OUT.flush()


def main():
    global OUT
    # The protocol keeps the real standard output; the kernel and whatever it starts get
    # standard error in its place, so that nothing they print lands on the protocol's lines.
    OUT = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    request = json.load(sys.stdin)
    os.makedirs(os.environ.get("TMPDIR", "/tmp"), exist_ok=True)
    write_files(request["files"], os.getcwd())
    import nbformat

    executor, kernel_manager = executor_class()
    notebook = nbformat.from_dict(request["notebook"])
    run = executor(kernel_manager_class=kernel_manager, kernel_name="python3", **request["execute"])
    try:
        run.preprocess(notebook, {"metadata": {"path": os.getcwd()}})
    except Exception as error:  # the student's code may break the kernel any way it likes
        emit({"stopped": str(error) or type(error).__name__})
    else:
        emit({"finished": True})


if __name__ == "__main__":
    main()
