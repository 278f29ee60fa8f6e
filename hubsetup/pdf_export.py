"""File → Save and Export Notebook As → PDF: the notebook as nbconvert's print-ready HTML,
printed to PDF by Debian's headless Chromium in the user's own server, as the user.

nbconvert's own PDF needs LaTeX (about 500 MB) and its webpdf launches only a browser that
Playwright downloaded; this needs neither. Without the browser (an image built with
PDF_EXPORT=no) the exporter is disabled, so JupyterLab's menu leaves PDF out.

The notebook may be someone else's (a teacher printing a submission), and the browser runs as
whoever prints: the page is cleaned as the formgrader's are (no scripts, frames or handlers,
also for `jupyter nbconvert --to pdf` in a terminal, which reads no server config) and the
browser gets no network, so a notebook cannot make the printer fetch anything."""

import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile

from nbconvert.exporters import HTMLExporter
from traitlets import Int, Unicode, default

from . import notebook_html


class PDFExportError(RuntimeError):
    pass


class BrowserPDFExporter(HTMLExporter):
    """nbconvert's webpdf page (its template and print styles), printed by Chromium's --print-to-pdf."""

    export_from_notebook = "PDF"
    output_mimetype = "application/pdf"

    browser = Unicode(
        "chromium-headless-shell",
        help="The Chromium that prints: a command on the PATH or an absolute path.",
    ).tag(config=True)

    render_budget_ms = Int(
        10_000,
        help="Virtual time the page gets to run its scripts (MathJax, plots) before printing.",
    ).tag(config=True)

    timeout_s = Int(120, help="Seconds before a print that has not finished is stopped.").tag(config=True)

    @default("enabled")
    def _enabled_default(self):
        return shutil.which(self.browser) is not None

    @default("file_extension")
    def _file_extension_default(self):
        return ".pdf"

    @default("template_name")
    def _template_name_default(self):
        return "webpdf"

    @default("mathjax_url")
    def _mathjax_url_default(self):
        """MathJax from the image's files (jupyter-server-mathjax): the browser has no network."""
        found = importlib.util.find_spec("jupyter_server_mathjax")
        if found is None:
            return HTMLExporter.class_traits()["mathjax_url"].default_value
        folder = os.path.join(os.path.dirname(found.origin), "static")
        return f"file://{folder}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

    @default("sanitize_html")
    def _sanitize_html_default(self):
        return True

    @default("filters")
    def _filters_default(self):
        return dict(notebook_html.FILTERS)

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources=resources, **kw)
        return self.print_to_pdf(html), resources

    def print_to_pdf(self, html):
        # A private folder for the page, the PDF and the browser's profile, gone afterwards.
        with tempfile.TemporaryDirectory(prefix="notebook-pdf-") as folder:
            page, pdf = os.path.join(folder, "notebook.html"), os.path.join(folder, "notebook.pdf")
            with open(page, "w", encoding="utf-8") as f:
                f.write(html)
            command = [
                self.browser, "--headless",
                # The kernel's seccomp and container rules leave Chromium no namespaces to
                # sandbox itself with; it runs as the user who prints, on a cleaned page.
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                # Every http(s) request, loopback's too, goes to a proxy that is not there.
                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                f"--user-data-dir={os.path.join(folder, 'profile')}",
                "--no-pdf-header-footer", f"--virtual-time-budget={self.render_budget_ms}",
                "--run-all-compositor-stages-before-draw",
                f"--print-to-pdf={pdf}", f"file://{page}",
            ]
            returncode, stderr = self._run(command)
            if returncode != 0 or not os.path.exists(pdf):
                last = "\n".join(stderr.strip().splitlines()[-5:])
                raise PDFExportError(f"PDF export: the browser failed (exit {returncode}): {last}")
            with open(pdf, "rb") as f:
                return f.read()

    def _run(self, command):
        """(exit status, stderr) of the browser. Its whole process group goes afterwards:
        Debian's chromium-headless-shell is a shell script, and on a timeout the browser it
        starts would outlive it."""
        try:
            browser = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True, start_new_session=True)
        except FileNotFoundError:
            raise PDFExportError(f"PDF export: {self.browser} is not installed in this image "
                                 "(it was built with PDF_EXPORT=no)") from None
        try:
            _, stderr = browser.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise PDFExportError(f"PDF export: the browser did not finish in {self.timeout_s} s") from None
        finally:
            try:
                os.killpg(browser.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            browser.wait()
            browser.stderr.close()
        return browser.returncode, stderr
