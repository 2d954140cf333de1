"""What is vendored under ``maps/static/vendor/``, where it comes from, and what it replaces.

One `Bundle` is one folder under the vendor root. Files keep their path inside the npm
package, so the relative ``url(...)`` references in their CSS (Leaflet's marker images,
Font Awesome's webfonts) keep working unchanged.

To support a new folium plugin: add its bundle to `BUNDLES`, map each of its CDN URLs in
`CDN_URLS`, then run ``python -m maps.vendor.fetch`` and commit ``maps/static/vendor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parents[1] / "static" / "vendor"


@dataclass(frozen=True)
class Bundle:
    """One vendored folder: files copied from an npm tarball, plus files derived at fetch time.

    Parameters
    ----------
    dest
        Folder name under the vendor root, e.g. ``"leaflet"``.
    licence
        SPDX expression of the files' licence.
    npm
        ``name@version`` of the npm package the files come from, or None if all are derived.
    files
        Glob patterns (``fnmatch``) of files to copy verbatim, relative to the package root.
    derived
        Names of builders in `maps.vendor.fetch` that write further files into the folder.
    note
        Why this source was chosen, where that is not obvious.
    """

    dest: str
    licence: str
    npm: str | None = None
    files: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    note: str = ""


BUNDLES: tuple[Bundle, ...] = (
    # folium.Map
    Bundle(
        "leaflet",
        "BSD-2-Clause",
        "leaflet@1.9.3",
        ("dist/leaflet.js", "dist/leaflet.css", "dist/images/*.png", "LICENSE"),
    ),
    Bundle("jquery", "MIT", "jquery@3.7.1", ("dist/jquery.min.js", "LICENSE.txt")),
    Bundle(
        "bootstrap",
        "MIT",
        "bootstrap@5.2.2",
        ("dist/js/bootstrap.bundle.min.js", "dist/css/bootstrap.min.css", "LICENSE"),
    ),
    Bundle(
        "bootstrap3-glyphicons",
        "MIT",
        "bootstrap@3.4.1",
        ("dist/fonts/glyphicons-halflings-regular.*", "LICENSE"),
        derived=("glyphicons_css",),
        note="folium links Bootstrap 3's stand-alone glyphicons CSS, which is not on npm; "
        "dist/css/bootstrap-glyphicons.css is cut out of Bootstrap 3.4.1's bootstrap.css "
        "(its @font-face and top-level .glyphicon rules).",
    ),
    Bundle(
        "fontawesome-free",
        "CC-BY-4.0 AND OFL-1.1 AND MIT",
        "@fortawesome/fontawesome-free@6.2.0",
        ("css/all.min.css", "webfonts/*", "LICENSE.txt"),
    ),
    Bundle(
        "leaflet.awesome-markers",
        "MIT",
        "leaflet.awesome-markers@2.0.5",
        (
            "dist/leaflet.awesome-markers.js",
            "dist/leaflet.awesome-markers.css",
            "dist/images/markers-s*.png",
            "LICENSE",
        ),
        note="folium links 2.0.2 from cdnjs; 2.0.5 is the same JavaScript under the "
        "package's own npm name, with CSS and sprites that add square markers.",
    ),
    Bundle(
        "folium",
        "MIT",
        derived=("awesome_rotate_css",),
        note="leaflet.awesome.rotate.min.css is generated: the .fa-rotate-N classes folium's "
        "Icon(angle=N) uses, as in folium's own file of that name.",
    ),
    # branca colormaps (legends of choropleths)
    Bundle("d3-v3", "BSD-3-Clause", "d3@3.5.5", ("d3.min.js", "LICENSE")),
    # folium.plugins.MarkerCluster, FastMarkerCluster
    Bundle(
        "leaflet.markercluster",
        "MIT",
        "leaflet.markercluster@1.1.0",
        (
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
            "MIT-LICENCE.txt",
        ),
    ),
    # folium.plugins.Realtime
    Bundle("leaflet-realtime", "ISC", "leaflet-realtime@2.2.0", ("dist/leaflet-realtime.js",)),
    # folium.plugins.TimeSliderChoropleth
    Bundle("d3-v4", "BSD-3-Clause", "d3@4.13.0", ("build/d3.min.js", "LICENSE")),
    Bundle("moment", "MIT", "moment@2.18.1", ("min/moment.min.js", "LICENSE")),
    # folium.plugins.LocateControl
    Bundle(
        "leaflet.locatecontrol",
        "MIT",
        "leaflet.locatecontrol@0.66.2",
        ("dist/L.Control.Locate.min.js", "dist/L.Control.Locate.min.css", "LICENSE"),
    ),
    # folium.plugins.Fullscreen
    Bundle(
        "leaflet.fullscreen",
        "MIT",
        "leaflet.fullscreen@3.0.0",
        ("Control.FullScreen.js", "Control.FullScreen.css", "icon-fullscreen.svg", "LICENSE"),
        note="3.0.0 ships no minified script; the CDN's .min.js maps to Control.FullScreen.js.",
    ),
    # folium.plugins.DualMap (the planner's two seasons side by side)
    Bundle(
        "leaflet.sync",
        "BSD-2-Clause",
        "leaflet.sync@0.2.4",
        ("L.Map.Sync.js", "LICENSE"),
        note="folium links the repository's unversioned L.Map.Sync.min.js; npm ships the same "
        "script unminified.",
    ),
    # The dispatcher console (/console, api/routes/console.py): partial page updates.
    Bundle("htmx.org", "0BSD", "htmx.org@2.0.11", ("dist/htmx.min.js", "LICENSE")),
    # The API docs at /docs (Swagger UI) and /redoc (ReDoc): api/routes/docs.py links them.
    Bundle(
        "swagger-ui-dist",
        "Apache-2.0",
        "swagger-ui-dist@5.35.0",
        ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"),
    ),
    Bundle(
        "redoc",
        "MIT",
        "redoc@2.5.4",
        ("LICENSE",),
        derived=("redoc_offline",),
        note="bundles/redoc.standalone.js is the package's file with the one thing it fetches "
        "from another host, the Redocly logo of the side menu "
        "(https://cdn.redoc.ly/redoc/logo-mini.svg), replaced by an empty inline image.",
    ),
)

# CDN URL exactly as folium / branca write it -> path under the vendor root.
# Exact keys on purpose: when folium bumps a version, its new URL is unknown here and
# `maps.offline` raises, instead of silently serving an older file or the CDN.
CDN_URLS: dict[str, str] = {
    # folium.Map
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/dist/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/dist/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
        "bootstrap/dist/js/bootstrap.bundle.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": (
        "bootstrap/dist/css/bootstrap.min.css"
    ),
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
        "bootstrap3-glyphicons/dist/css/bootstrap-glyphicons.css"
    ),
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
        "fontawesome-free/css/all.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (  # noqa: E501
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (  # noqa: E501
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.css"
    ),
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": (  # noqa: E501
        "folium/leaflet.awesome.rotate.min.css"
    ),
    # branca.colormap
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3-v3/d3.min.js",
    # MarkerCluster
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
        "leaflet.markercluster/dist/leaflet.markercluster.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css": (
        "leaflet.markercluster/dist/MarkerCluster.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (  # noqa: E501
        "leaflet.markercluster/dist/MarkerCluster.Default.css"
    ),
    # Realtime
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-realtime/2.2.0/leaflet-realtime.js": (
        "leaflet-realtime/dist/leaflet-realtime.js"
    ),
    # TimeSliderChoropleth
    "https://d3js.org/d3.v4.min.js": "d3-v4/build/d3.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/moment.js/2.18.1/moment.min.js": (
        "moment/min/moment.min.js"
    ),
    # LocateControl
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-locatecontrol/0.66.2/L.Control.Locate.min.js": (
        "leaflet.locatecontrol/dist/L.Control.Locate.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-locatecontrol/0.66.2/L.Control.Locate.min.css": (  # noqa: E501
        "leaflet.locatecontrol/dist/L.Control.Locate.min.css"
    ),
    # DualMap
    "https://cdn.jsdelivr.net/gh/jieter/Leaflet.Sync/L.Map.Sync.min.js": (
        "leaflet.sync/L.Map.Sync.js"
    ),
    # Fullscreen
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
        "leaflet.fullscreen/Control.FullScreen.js"
    ),
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
        "leaflet.fullscreen/Control.FullScreen.css"
    ),
}
