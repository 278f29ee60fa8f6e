"""The PDF exporter: its failures say what happened, a browser that hangs goes with everything it
started, and a notebook cannot make the printing browser run its scripts or fetch anything.
The print itself, by the image's chromium-headless-shell from JupyterLab's menu, is
tests/integration/test_languages.py; here the host's Debian Chromium prints."""

import http.server
import os
import shutil
import threading
import time

import nbformat
import pytest

from hubsetup.pdf_export import BrowserPDFExporter, PDFExportError

CHROMIUM = shutil.which("chromium")


def notebook(*cells):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 股票价格"), *cells])


def test_without_the_browser_pdf_is_off_the_menu_and_an_export_says_how_the_image_was_built():
    exporter = BrowserPDFExporter(browser="no-such-chromium")
    assert exporter.enabled is False
    with pytest.raises(PDFExportError, match="no-such-chromium is not installed in this image .*PDF_EXPORT=no"):
        exporter.from_notebook_node(notebook())


def test_a_browser_that_fails_is_reported_with_its_exit_status():
    exporter = BrowserPDFExporter(browser="false")  # /bin/false: exits 1, prints nothing
    assert exporter.enabled is True
    with pytest.raises(PDFExportError, match=r"the browser failed \(exit 1\)"):
        exporter.from_notebook_node(notebook())


def test_a_browser_that_hangs_is_stopped_after_the_timeout_with_what_it_started(tmp_path):
    """As Debian's chromium-headless-shell is: a shell script whose browser is its child."""
    child = tmp_path / "child.pid"
    hang = tmp_path / "hang"
    hang.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {child}\nwait\n")
    hang.chmod(0o755)
    with pytest.raises(PDFExportError, match="did not finish in 1 s"):
        BrowserPDFExporter(browser=str(hang), timeout_s=1).from_notebook_node(notebook())
    assert not still_running(int(child.read_text()))


def still_running(pid, seconds=5):
    """Whether `pid` still runs after `seconds` (a killed orphan may stay a zombie until reaped)."""
    for _ in range(seconds * 10):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except FileNotFoundError:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def loopback_server():
    """A web server on loopback that records every path asked of it."""
    asked = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium")
def test_a_notebook_printed_by_someone_else_runs_no_script_and_fetches_nothing(loopback_server):
    """A student's notebook that a teacher prints with `jupyter nbconvert --to pdf` (no server config)."""
    url, asked = loopback_server
    hostile = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": f'<img src="{url}/image"><script>fetch("{url}/script")</script>'
                                           f'<iframe src="file:///etc/passwd"></iframe>'})])
    markdown = nbformat.v4.new_markdown_cell(f'<img src="{url}/markdown"> <script>location="{url}/moved"</script>')
    exporter = BrowserPDFExporter(browser=CHROMIUM)
    html, _ = super(BrowserPDFExporter, exporter).from_notebook_node(notebook(hostile, markdown))
    assert "<script>fetch" not in html and "<iframe" not in html and "<script>location" not in html
    pdf, _ = exporter.from_notebook_node(notebook(hostile, markdown))
    assert pdf.startswith(b"%PDF-")
    assert asked == []
