"""The PDF exporter's failures say what happened (the real print, by Chromium in the image, is
tests/integration/test_languages.py)."""

import nbformat
import pytest

from hubsetup.pdf_export import BrowserPDFExporter, PDFExportError


def notebook():
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 股票价格")])


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


def test_a_browser_that_hangs_is_stopped_after_the_timeout(tmp_path):
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    with pytest.raises(PDFExportError, match="did not finish in 1 s"):
        BrowserPDFExporter(browser=str(hang), timeout_s=1).from_notebook_node(notebook())
