"""What a user's server answers at `open/...`: the targets of LTI launches, made ready before
JupyterLab opens them, and the teachers' page of their course's materials. A Jupyter server
extension: everything here runs as the server's user, in their own server.

- `open/lesson/<course>/<path>`: deliver the course's published materials, then open the
  notebook (or file) in JupyterLab.
- `open/assignment/<course>/<assignment>`: fetch the released nbgrader assignment if the
  student has not yet (nbgrader's own fetch, as the student), then open its notebook.
- `open/file/<path>`: open a file of the home in JupyterLab.
- `open/materials`: teachers publish their course's materials and copy each lesson's or
  assignment's edX *Custom Parameters* line.

A target that does not exist gets a page that says which, and links to the home, instead of
JupyterLab's "file not found". Ten seconds after the server's start, every course's materials
are delivered in the background (for students who log in without a lesson's link).
"""

import grp
import html
import os
import stat
import subprocess
import sys
import threading
from urllib.parse import quote

from . import materials
from .lti.rules import assignment_problem

DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
FETCH_TIMEOUT = 120
START_DELIVERY_DELAY = 10.0  # seconds after the server's start before every course is delivered
_delivering = threading.Lock()  # one delivery at a time in a server: a lesson's and the start's


def exchange_root():
    return os.environ.get("NBGRADER_EXCHANGE", DEFAULT_EXCHANGE)


def my_courses(prefix="nbgrader-"):
    """The courses this process's user belongs to (`formgrade-` for those they teach), from
    its groups: the hub gives each server its course groups."""
    names = set()
    for gid in os.getgroups():
        try:
            name = grp.getgrgid(gid).gr_name
        except KeyError:
            continue
        if name.startswith(prefix):
            names.add(name[len(prefix):])
    return sorted(names)


def deliver(course, home=None):
    with _delivering:
        return materials.deliver(materials.published_root(exchange_root(), course), home or os.path.expanduser("~"),
                                 course)


def deliver_all(log):
    for course in my_courses():
        try:
            report = deliver(course)
        except (OSError, materials.MaterialsError) as error:
            log.warning("materials of %s not delivered: %s", course, error)
            continue
        if report["new"] or report["updated"]:
            log.info("materials of %s: %d new, %d updated", course, len(report["new"]), len(report["updated"]))


def lesson_parameter(path):
    return f'"lesson={path}"'


def assignment_parameter(assignment):
    return f'"assignment={assignment}"'


def page(title, body_html):
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<style>body{font-family:sans-serif;max-width:48em;margin:3em auto;line-height:1.5}'
            'code{background:#eee;padding:.1em .3em}td{padding:.2em .8em .2em 0}</style></head>'
            f'<body><h1>{html.escape(title)}</h1>{body_html}</body></html>')


def make_handlers():
    """The handler classes (jupyter_server and tornado are the server's: imported here)."""
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import web

    class OpenHandler(JupyterHandler):
        def home_link(self):
            return f'<p><a href="{html.escape(self.base_url)}lab">Open your files in JupyterLab</a></p>'

        def missing(self, title, explanation):
            self.set_status(404)
            self.finish(page(title, f"<p>{explanation}</p>{self.home_link()}"))

        def open_in_lab(self, path):
            self.redirect(f"{self.base_url}lab/tree/{quote(path)}")

        def prepare(self):
            # These pages do work (deliver, fetch): only for a page the browser opens, never for
            # an image or a script some other page (a student's submission) points at.
            mode = self.request.headers.get("Sec-Fetch-Mode")
            if self.request.method == "GET" and mode not in (None, "navigate"):
                raise web.HTTPError(403, "open/ pages are opened by navigation only")
            return super().prepare()

        def check_path(self, path, what):
            problem = materials.path_problem(path)
            if problem:
                self.missing(f"No such {what}", f"<code>{html.escape(path)}</code> {html.escape(problem)}.")
                return False
            return True

        def check_course(self, course, prefix="nbgrader-"):
            if course not in my_courses(prefix):
                self.missing("Not one of your courses",
                             f"You are not in the course <code>{html.escape(course)}</code> on this hub.")
                return False
            return True

        async def in_thread(self, function, *args):
            from tornado.ioloop import IOLoop

            return await IOLoop.current().run_in_executor(None, function, *args)

    class LessonHandler(OpenHandler):
        @web.authenticated
        async def get(self, course, path):
            if not self.check_path(path, "lesson") or not self.check_course(course):
                return
            try:
                report = await self.in_thread(deliver, course)
            except (OSError, materials.MaterialsError) as error:
                self.log.warning("materials of %s not delivered: %s", course, error)
                report = {"failed": [str(error)]}
            if os.path.isfile(os.path.join(os.path.expanduser("~"), course, path)):
                return self.open_in_lab(f"{course}/{path}")
            failed = "".join(f"<li>{html.escape(f)}</li>" for f in report.get("failed", []))
            self.missing("Lesson not found", (
                f"The lesson <code>{html.escape(path)}</code> is not in the published materials of the "
                f"course <code>{html.escape(course)}</code>. Your teacher may not have published it yet."
                + (f"</p><p>These files could not be delivered:<ul>{failed}</ul>" if failed else "")))

    class AssignmentHandler(OpenHandler):
        @web.authenticated
        async def get(self, course, assignment):
            problem = assignment_problem(assignment)
            if problem:
                return self.missing("No such assignment", html.escape(problem))
            if not self.check_course(course):
                return
            folder = os.path.join(os.path.expanduser("~"), course, assignment)
            if not os.path.isdir(folder):
                released = is_released(course, assignment)
                if not released:
                    return self.not_released(course, assignment)
                failure = await self.in_thread(fetch, course, assignment)
                if failure:
                    self.log.warning("fetching %s/%s failed: %s", course, assignment, failure)
                    return self.missing("The assignment could not be fetched", html.escape(failure))
            notebook = main_notebook(folder, assignment)
            if notebook is None:
                return self.missing("No notebook in this assignment",
                                    f"<code>{html.escape(course)}/{html.escape(assignment)}</code> holds no notebook.")
            self.open_in_lab(f"{course}/{assignment}/{notebook}")

        def not_released(self, course, assignment):
            source = os.path.join(os.path.expanduser("~"), "courses", course, "source", assignment)
            if course in my_courses("formgrade-"):
                explanation = (f"<code>{html.escape(assignment)}</code> is in your course's <code>source/</code> "
                               "but not released: release it in the Formgrader." if os.path.isdir(source) else
                               f"The course <code>{html.escape(course)}</code> has no assignment "
                               f"<code>{html.escape(assignment)}</code> in <code>source/</code>.")
            else:
                explanation = (f"The assignment <code>{html.escape(assignment)}</code> of the course "
                               f"<code>{html.escape(course)}</code> has not been released yet. Come back once "
                               "your teacher has released it.")
            self.missing("Assignment not released", explanation)

    class FileHandler(OpenHandler):
        @web.authenticated
        def get(self, path):
            if not self.check_path(path, "file"):
                return
            if os.path.isfile(os.path.join(os.path.expanduser("~"), path)):
                return self.open_in_lab(path)
            self.missing("File not found", f"There is no <code>{html.escape(path)}</code> in your files.")

    class MaterialsBase(OpenHandler):
        def course_section(self, course, message=""):
            source = os.path.join(os.path.expanduser("~"), "courses", course, materials.MATERIALS)
            published = materials.published_root(exchange_root(), course)
            try:
                files = sorted(materials.current_files(published))
            except (OSError, materials.MaterialsError) as error:
                files, message = [], message + f'<p class="error">{html.escape(str(error))}</p>'
            rows = "".join(f"<tr><td>{html.escape(f)}</td><td><code>[{html.escape(lesson_parameter(f))}]</code></td></tr>"
                           for f in files if f.endswith(".ipynb"))
            outbound = os.path.join(exchange_root(), course, "outbound")
            released = sorted(a for a in (os.listdir(outbound) if os.path.isdir(outbound) else [])
                              if is_released(course, a))
            rows += "".join(f"<tr><td>assignment {html.escape(a)}</td><td><code>[{html.escape(assignment_parameter(a))}]"
                            "</code></td></tr>" for a in released)
            action = f"{self.base_url}open/materials/{quote(course)}/publish"
            return (f"<h2>{html.escape(course)}</h2>{message}<p>Put the lesson notebooks, data files and images "
                    f"in <code>{html.escape(os.path.relpath(source, os.path.expanduser('~')))}/</code>, then publish: "
                    "students get them in their own <code>"
                    f"{html.escape(course)}/</code> folder at their next launch, and their own changes are kept.</p>"
                    f'<form method="post" action="{html.escape(action)}">{self.xsrf_form_html()}'
                    '<button type="submit">Publish the materials</button></form>'
                    + (f"<p>In edX, each LTI component's <em>Custom Parameters</em>:</p><table>{rows}</table>"
                       if rows else "<p>Nothing published yet.</p>"))

    class MaterialsPage(MaterialsBase):
        @web.authenticated
        def get(self):
            taught = my_courses("formgrade-")
            if not taught:
                return self.missing("Course materials", "You teach no course on this hub.")
            self.finish(page("Course materials", "".join(self.course_section(c) for c in taught)))

    class PublishHandler(MaterialsBase):
        @web.authenticated
        async def post(self, course):
            if not self.check_course(course, "formgrade-"):
                return
            source = os.path.join(os.path.expanduser("~"), "courses", course, materials.MATERIALS)
            try:
                files, copied, linked = await self.in_thread(
                    materials.publish, source, materials.published_root(exchange_root(), course))
                message = (f'<p class="published">Published {files} file(s): {copied} copied, {linked} unchanged. '
                           "Students get them at their next launch.</p>")
            except (OSError, materials.MaterialsError) as error:
                self.set_status(400)
                message = f'<p class="error">Not published: {html.escape(str(error))}</p>'
            self.finish(page("Course materials", self.course_section(course, message)))

    return [
        (r"/open/lesson/([^/]+)/(.+)", LessonHandler),
        (r"/open/assignment/([^/]+)/([^/]+)", AssignmentHandler),
        (r"/open/file/(.+)", FileHandler),
        (r"/open/materials", MaterialsPage),
        (r"/open/materials/([^/]+)/publish", PublishHandler),
    ]


def is_released(course, assignment, root=None):
    """The assignment's folder in the course's outbound, a real folder (not a link someone
    planted to elsewhere), in the exchange at `root` (this server's by default)."""
    try:
        return stat.S_ISDIR(os.lstat(os.path.join(root or exchange_root(), course, "outbound", assignment)).st_mode)
    except OSError:
        return False


def fetch(course, assignment):
    """nbgrader's fetch, as this user (the server's): None, or why it failed."""
    # the server's own nbgrader: the course environment is first on the PATH, and a school's
    # extra packages there could bring another
    nbgrader = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    result = subprocess.run([nbgrader, "fetch_assignment", assignment, "--course", course],
                            capture_output=True, text=True, timeout=FETCH_TIMEOUT, cwd=os.path.expanduser("~"))
    if result.returncode != 0:
        lines = (result.stderr + result.stdout).splitlines()
        errors = [line for line in lines if "| ERROR]" in line] or [line for line in lines if line.strip()]
        return (errors or [f"nbgrader fetch_assignment exited with {result.returncode}"])[-1]
    return None


def main_notebook(folder, assignment):
    """The assignment's notebook named after it, else its first notebook."""
    notebooks = sorted(n for n in os.listdir(folder) if n.endswith(".ipynb")) if os.path.isdir(folder) else []
    if f"{assignment}.ipynb" in notebooks:
        return f"{assignment}.ipynb"
    return notebooks[0] if notebooks else None


def _jupyter_server_extension_points():
    return [{"module": "hubsetup.lesson_server"}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.utils import url_path_join

    base = serverapp.base_url
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, pattern), handler)
                                           for pattern, handler in make_handlers()])
    # Not at once: the server's start and JupyterLab's first page come first (a lesson's page
    # delivers its course by itself, at once).
    timer = threading.Timer(START_DELIVERY_DELAY, deliver_all, args=(serverapp.log,))
    timer.daemon = True
    timer.start()
