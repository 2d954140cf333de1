"""Feature collections for GIS tools: one registry feeding vector tiles, OGC API - Features and
GeoPackage export.

A `Collection` names a SQL source (rows with an id, attribute columns and a WGS84 `geom`), its
fields and whether it is public. `tiles`, `items` and `export` read any registered collection the
same way, so a new layer is one `Collection(...)` in a provider module (see `registry`).
"""
