"""The cells `geo.spatial.batch.CellIndex.from_session` indexes: those geo.spatial.locate.LOCATE_SQL
can return."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import resolve_release

# The same cells, with the same joins, as geo.spatial.locate.LOCATE_SQL, so both paths see the same
# set.
CELLS_SQL = text(
    f"""
    SELECT g.code AS cell_code, g.name AS cell_name,
           c.code AS community_code, c.name AS community_name,
           s.code AS street_code, s.name AS street_name,
           d.code AS district_code, d.name AS district_name, ST_AsBinary(g.geom) AS wkb
    FROM grid_cell g
    JOIN community c ON c.code = g.community_code AND {in_release("c")}
    JOIN street s ON s.code = c.street_code AND {in_release("s")}
    JOIN district d ON d.code = s.district_code AND {in_release("d")}
    WHERE {in_release("g")}
    ORDER BY g.code
    """
)


def cells(session: Session, release: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Codes and names of every cell and its community, street and district, ordered by code,
    and the cells' polygons (WGS84), in a release (default: the active one)."""
    result = session.execute(CELLS_SQL, {"rid": resolve_release(session, release)})
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    return frame, shapely.from_wkb([bytes(w) for w in frame.pop("wkb")])


def release_identity(session: Session, release: int | None = None) -> tuple[str, int, str]:
    """What names a release's cells for a cache: the database, the release id and when it was
    written (a recreated database may reuse the id, never with the same instant)."""
    rid = resolve_release(session, release)
    written = session.execute(
        text("SELECT created_at FROM boundary_release WHERE id = :rid"), {"rid": rid}
    ).scalar_one()
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    return url, rid, written.isoformat()
