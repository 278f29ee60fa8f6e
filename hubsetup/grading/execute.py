"""nbgrader's `Execute`, with the execution in a sandbox: the teacher's side of grading.

nbgrader's autograde calls this preprocessor on the sanitised notebook in
`autograded/<student>/<assignment>` (the formgrader's button, `nbgrader autograde`, and
`on_submit` alike: `nbgrader_setup` puts it in `Autograde.autograde_preprocessors`). Instead of
starting a kernel as the teacher, it sends the notebook and that folder's files to the broker
and takes back only each code cell's outputs and execution count (`client`). Then nbgrader's
own preprocessors (LimitOutput, SaveAutoGrades) score what came back, as the teacher.
"""

from nbgrader.preprocessors import Execute
from traitlets import Unicode

from .broker import SOCKET
from .client import ask_broker, folder_files, take_outputs


class SandboxExecute(Execute):
    broker_socket = Unicode(
        SOCKET, help="The grading service's socket: where notebooks are sent to be run in a sandbox.",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        folder = resources["metadata"]["path"]
        request = {
            "course": self._course(), "notebook": nb, "files": folder_files(folder),
            "execute": {
                "timeout": self.timeout, "startup_timeout": self.startup_timeout,
                "interrupt_on_timeout": self.interrupt_on_timeout, "error_on_timeout": self.error_on_timeout,
                "iopub_timeout": self.iopub_timeout, "raise_on_iopub_timeout": self.raise_on_iopub_timeout,
            },
        }
        reply = ask_broker(self.broker_socket, request)
        take_outputs(nb, reply)
        if reply.get("stopped"):
            self.log.warning("Grading stopped early: %s", reply["stopped"])
        return nb, resources

    def _course(self):
        node = self
        while node is not None:
            coursedir = getattr(node, "coursedir", None)
            if coursedir is not None:
                return coursedir.course_id
            node = node.parent
        return self.config.CourseDirectory.get("course_id", "")
