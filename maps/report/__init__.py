"""The season report: HTML (Jinja2, matplotlib plots) and its PDF (headless Chromium)."""
