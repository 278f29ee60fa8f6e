"""File → Save and Export Notebook As → PDF: the notebook as nbconvert's print-ready HTML,
printed to PDF by Debian's headless Chromium in the user's own server, as the user.

nbconvert's own PDF needs LaTeX (about 500 MB) and its webpdf launches only a browser that
Playwright downloaded; this needs neither. Without the browser (an image built with
PDF_EXPORT=no) the exporter is disabled, so JupyterLab's menu leaves PDF out."""

import os
import shutil
import subprocess
import tempfile

from nbconvert.exporters import HTMLExporter
from traitlets import Int, Unicode, default


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
                self.browser,
                # The kernel's seccomp and container rules leave Chromium no namespaces to
                # sandbox itself with; it prints the user's own notebook as the user.
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                f"--user-data-dir={os.path.join(folder, 'profile')}",
                "--no-pdf-header-footer", f"--virtual-time-budget={self.render_budget_ms}",
                "--run-all-compositor-stages-before-draw",
                f"--print-to-pdf={pdf}", f"file://{page}",
            ]
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout_s,
                                        stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise PDFExportError(f"PDF export: the browser did not finish in {self.timeout_s} s") from None
            except FileNotFoundError:
                raise PDFExportError(f"PDF export: {self.browser} is not installed in this image "
                                     "(it was built with PDF_EXPORT=no)") from None
            if result.returncode != 0 or not os.path.exists(pdf):
                last = "\n".join(result.stderr.strip().splitlines()[-5:])
                raise PDFExportError(f"PDF export: the browser failed (exit {result.returncode}): {last}")
            with open(pdf, "rb") as f:
                return f.read()
