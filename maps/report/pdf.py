"""HTML to PDF with headless Chromium (Debian's /usr/bin/chromium, driven by playwright-python;
no browser download, no network): the page is printed as Chromium prints, with the system's
fonts (Noto Sans CJK from fonts-noto-cjk) embedded in the PDF.

Chosen over WeasyPrint, whose system libraries (Pango) are not part of the project's setup,
while Chromium already is (the browser tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

from geo.core.errors import DomainError

CHROMIUM = "/usr/bin/chromium"  # Debian's; another with HOUNIAO_CHROMIUM
ARGS = (
    "--headless=new",
    "--no-sandbox",  # as root in a container, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#777;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


class RendererMissing(DomainError):
    """The PDF renderer (Chromium) is not installed."""


def html_to_pdf(html: Path, pdf: Path, timeout_s: float = 120) -> None:
    """Print the HTML file `html` to `pdf` (A4). Requests beyond the file itself are refused:
    the report is self-contained, and a PDF must not depend on the network."""
    chromium = Path(os.environ.get("HOUNIAO_CHROMIUM") or CHROMIUM)
    if not chromium.is_file():
        raise RendererMissing(
            f"the PDF renderer {chromium} is missing: install the Debian package chromium"
            " (or name another with HOUNIAO_CHROMIUM)"
        )
    from playwright.sync_api import Route, sync_playwright

    source = html.resolve().as_uri()

    def only_the_file(route: Route) -> None:
        if route.request.url.startswith(("data:", source)):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=list(ARGS))
        try:
            page = browser.new_page()
            page.route("**/*", only_the_file)
            page.goto(source, wait_until="load", timeout=timeout_s * 1000)
            page.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                prefer_css_page_size=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
                margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
            )
        finally:
            browser.close()
