"""Render folium maps that load every script, stylesheet, image and font from our own app.

folium elements list the CDN files they need in ``default_js`` / ``default_css`` (pairs of
name and URL, per class; plugins add their own), and a few (branca's colormaps) add links
to the page header only while rendering. `localize` rewrites the former on the element
tree; `render_offline` does that, renders, and rewrites or rejects whatever external link
the rendered page still has. A CDN URL without a vendored copy raises
`UnvendoredAssetError`, so a new plugin cannot silently fall back to a CDN.

Basemap tile URLs are not touched: a map drawn with ``tiles=None`` has no external URL.

Example
-------
>>> import folium
>>> html = render_offline(folium.Map(tiles=None))
>>> '<script src="/static/vendor/leaflet/dist/leaflet.js"></script>' in html
True
>>> "https://" in html
False
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from branca.element import Element, Link

from maps.vendor.manifest import CDN_URLS, VENDOR_DIR

DEFAULT_PREFIX = "/static/vendor/"
STATIC_DIR = VENDOR_DIR.parent  # what api.static serves at /static

# Tags whose src/href the browser fetches while loading the page (an <a href> it does not).
_FETCHED_URL = re.compile(
    r"""(<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*)(["'])(.*?)\2""",
    re.IGNORECASE | re.DOTALL,
)


class UnvendoredAssetError(LookupError):
    """A folium element links a file from outside our app that has no vendored copy."""


def is_external(url: str) -> bool:
    """True for URLs that leave our origin: ``http(s)://…`` and protocol-relative ``//…``."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in {"http", "https"} or (not parts.scheme and bool(parts.netloc))


def local_url(url: str, prefix: str = DEFAULT_PREFIX, *, where: str = "") -> str:
    """The vendored replacement of a CDN `url`; other, non-external URLs unchanged.

    Parameters
    ----------
    url
        A script or stylesheet URL as folium writes it.
    prefix
        URL path (or base URL) under which ``maps/static/vendor`` is served.
    where
        What links `url`, for the error message.

    Raises
    ------
    UnvendoredAssetError
        If `url` is external and `maps.vendor.manifest.CDN_URLS` has no copy of it.

    >>> local_url("https://code.jquery.com/jquery-3.7.1.min.js", "/assets")
    '/assets/jquery/dist/jquery.min.js'
    """
    if not is_external(url):
        return url
    try:
        rel = CDN_URLS[url.strip()]
    except KeyError:
        raise UnvendoredAssetError(
            f"{url} (linked by {where or 'the page'}) has no vendored copy: add its npm "
            "package to maps/vendor/manifest.py (BUNDLES and CDN_URLS), run "
            "`python -m maps.vendor.fetch` and commit maps/static/vendor"
        ) from None
    return f"{prefix.rstrip('/')}/{rel}"


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def localize(element: Element, prefix: str = DEFAULT_PREFIX) -> Element:
    """Point the JS/CSS links of `element`'s whole figure at vendored copies, in place.

    Walks the root `Figure` of `element` (so a Map's siblings and the page header are
    covered too) and rewrites every ``default_js`` / ``default_css`` entry and every
    `branca.element.Link` (``JavascriptLink``, ``CssLink``) already added. Safe to call
    more than once. Returns `element`, for chaining.

    Raises
    ------
    UnvendoredAssetError
        Before anything is changed, if some external URL has no vendored copy.
    """
    changes: list[tuple[Element, str, object]] = []
    for node in _walk(element.get_root()):
        where = type(node).__name__
        for attr in ("default_js", "default_css"):
            pairs = getattr(node, attr, None)
            if pairs:
                # A new list on the instance: the class attribute is shared by every map.
                new = [(name, local_url(url, prefix, where=where)) for name, url in pairs]
                changes.append((node, attr, new))
        if isinstance(node, Link):
            changes.append((node, "url", local_url(node.url, prefix, where=where)))
    for node, attr, value in changes:
        setattr(node, attr, value)
    return element


def localize_html(html: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Rewrite the external src/href of fetched tags (script, link, img, …) in `html`.

    The safety net for links added while rendering, which `localize` cannot see.

    Raises
    ------
    UnvendoredAssetError
        If such a URL has no vendored copy.
    """

    def swap(match: re.Match[str]) -> str:
        head, quote, url = match.groups()
        return f"{head}{quote}{local_url(url, prefix, where=head.split()[0] + '>')}{quote}"

    return _FETCHED_URL.sub(swap, html)


def render_offline(element: Element, prefix: str = DEFAULT_PREFIX) -> str:
    """The full HTML page of `element`'s figure, loading nothing from outside our app.

    Parameters
    ----------
    element
        A `folium.Map`, or any element or `branca.element.Figure` in the page to render.
    prefix
        URL path (or base URL) under which ``maps/static/vendor`` is served.

    Raises
    ------
    UnvendoredAssetError
        If the page would link a CDN file that has no vendored copy.
    """
    root = localize(element, prefix).get_root()
    return localize_html(root.render(), prefix)
