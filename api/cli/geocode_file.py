"""The work of `houniao geocode IN OUT`: a CSV or GeoPackage's points (or addresses) to cells.

The cells come from one `geo.spatial.batch.CellIndex`, built once, which answers exactly as
`houniao locate` does, shared edges included. Rows are read and written in chunks, so files of
millions of rows fit in memory and show a progress bar.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from api.cli.output import err, fail, progress_bar
from geo.core.db import session_scope
from geo.spatial.addresses.geocode import geocode_many
from geo.spatial.batch import CellIndex
from geo.spatial.crs import Crs, parse_crs, to_wgs84
from geo.spatial.locate import LOOKS_SWAPPED, OUTSIDE_COVERAGE

CELL_COLUMNS = [
    "cell_code",
    "cell_name",
    "community_code",
    "community_name",
    "street_code",
    "street_name",
    "district_code",
    "district_name",
]
SUFFIXES = {".csv": "CSV", ".gpkg": "GeoPackage"}
COORDINATE = "coordinate"  # a lon/lat column: Float64 in a GeoPackage, non-numbers as null
_IO_ERRORS = (
    OSError,
    UnicodeError,
    LookupError,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
)


def run(
    input: Path,
    output: Path,
    lon_col: str,
    lat_col: str,
    address_col: str | None,
    crs: str,
    release: int | None,
    encoding: str,
    chunk_size: int,
) -> None:
    """`houniao geocode` (api/cli/geocode.py has the options)."""
    source_crs = parse_crs(crs)
    if input.suffix.lower() not in SUFFIXES or output.suffix.lower() not in SUFFIXES:
        fail("IN and OUT must end in .csv or .gpkg")
    if input.resolve() == output.resolve():
        fail("OUT must differ from IN")
    total, chunks = _reader(input, encoding, chunk_size)
    first = next(chunks, None)
    if first is None:
        fail(f"{input} has no rows")
    coords = _check_columns(first, lon_col, lat_col, address_col)
    gpkg = output.suffix.lower() == ".gpkg"
    numeric = _numeric_columns(first, {lon_col, lat_col}) if gpkg else {}
    output.unlink(missing_ok=True)
    counts: Counter[str] = Counter()
    with session_scope() as session, progress_bar() as bar:
        task = bar.add_task("indexing grid cells", total=total)
        index = CellIndex.from_session(session, release)
        bar.update(task, description=f"geocoding {input.name}")
        try:
            for i, chunk in enumerate(_chain(first, chunks)):
                points = _coordinates(chunk, coords, lon_col, lat_col, source_crs)
                out = _assign(session, index, chunk, points, source_crs, counts)
                if address_col is not None:
                    out = _by_address(session, out, chunk[address_col], points, release, counts)
                try:
                    _write(_typed(out, numeric), output, points.lon, points.lat, append=i > 0)
                except _IO_ERRORS as exc:
                    fail(f"cannot write {output}: {exc}")
                bar.update(task, advance=len(chunk))
        except BaseException:
            output.unlink(missing_ok=True)  # no half-written file left behind
            raise
    _summary(counts, output)


def _reader(path: Path, encoding: str, size: int) -> tuple[int, Iterator[pd.DataFrame]]:
    """(rows, chunks). CSV columns are read as text, so codes keep their leading zeros."""
    try:
        if path.suffix.lower() == ".gpkg":
            frame = pyogrio.read_dataframe(path)
            return len(frame), (frame.iloc[i : i + size] for i in range(0, len(frame), size))
        with path.open("rb") as f:
            lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
        reader = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding=encoding, chunksize=size
        )
    except _IO_ERRORS as exc:
        _cannot_read(path, exc)
    return max(lines - 1, 0), _guarded(path, reader)


def _guarded(path: Path, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """CSV chunks are parsed lazily: a bad line or encoding surfaces here, as a clear error."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except _IO_ERRORS as exc:
            _cannot_read(path, exc)
        yield chunk


def _cannot_read(path: Path, exc: BaseException) -> NoReturn:
    if isinstance(exc, UnicodeDecodeError):
        fail(
            f"cannot read {path}: it is not {exc.encoding} text (byte {exc.start}); name its"
            " encoding with --encoding, e.g. --encoding gb18030"
        )
    if isinstance(exc, LookupError):
        fail(f"cannot read {path}: {exc}; --encoding takes a Python codec name, e.g. gb18030")
    fail(f"cannot read {path}: {exc}")


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _check_columns(frame: pd.DataFrame, lon_col: str, lat_col: str, address_col: str | None) -> str:
    """Where coordinates come from: 'columns', 'geometry' or 'none' (addresses only)."""
    columns = [c for c in frame.columns if c != "geometry"]
    if address_col is not None and address_col not in columns:
        fail(f"no address column {address_col!r}; the columns are: {', '.join(columns)}")
    if lon_col in columns and lat_col in columns:
        return "columns"
    if isinstance(frame, gpd.GeoDataFrame) and lon_col not in columns and lat_col not in columns:
        return "geometry"
    if address_col is not None:
        return "none"
    missing = [c for c in (lon_col, lat_col) if c not in columns]
    fail(
        f"no column {', '.join(map(repr, missing))}; the columns are: {', '.join(columns)}"
        " (name them with --lon-col/--lat-col)"
    )


@dataclass
class Points:
    """One chunk's WGS84 lon/lat (NaN where unusable) and, per row, why not ('' if usable)."""

    lon: np.ndarray
    lat: np.ndarray
    reason: np.ndarray  # object array of str
    swapped: np.ndarray  # the raw numbers read as (lat, lon), converted to WGS84


def _coordinates(chunk: pd.DataFrame, coords: str, lon_col: str, lat_col: str, crs: Crs) -> Points:
    """WGS84 lon/lat; NaN with a reason where missing, not numeric, infinite or out of range."""
    n = len(chunk)
    if coords == "none":
        nan = np.full(n, np.nan)
        return Points(nan, nan.copy(), np.full(n, "", dtype=object), np.full((2, n), np.nan))
    if coords == "geometry":
        points = chunk.geometry.where(chunk.geometry.geom_type == "Point")
        x, y = points.x.to_numpy(float), points.y.to_numpy(float)
        missing = ~np.isfinite(x)
        file_crs = chunk.crs
        if file_crs is not None and file_crs.to_epsg() not in (4326, 4490):
            if crs not in (Crs.wgs84, Crs.cgcs2000):
                fail(f"--crs {crs.value} names lon/lat, but the file's points are in {file_crs}")
            to_4326 = Transformer.from_crs(file_crs, CRS.from_epsg(4326), always_xy=True)
            x, y = to_4326.transform(x, y)
        not_numbers = np.zeros(n, dtype=bool)
    else:
        raw_x, raw_y = chunk[lon_col].astype("string"), chunk[lat_col].astype("string")
        x = pd.to_numeric(chunk[lon_col], errors="coerce").to_numpy(float)
        y = pd.to_numeric(chunk[lat_col], errors="coerce").to_numpy(float)
        missing = (
            (raw_x.fillna("").str.strip() == "") | (raw_y.fillna("").str.strip() == "")
        ).to_numpy()
        not_numbers = ~missing & ~(np.isfinite(x) & np.isfinite(y))
    in_range = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    reason = np.select(
        [missing, not_numbers, ~in_range],
        [
            "no coordinates",
            "coordinates are not finite numbers",
            "coordinates out of range (lon -180..180, lat -90..90)",
        ],
        "",
    ).astype(object)
    can_swap = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 90) & (np.abs(y) <= 180)
    sx, sy = to_wgs84(np.where(can_swap, y, np.nan), np.where(can_swap, x, np.nan), crs)
    lon, lat = to_wgs84(np.where(in_range, x, np.nan), np.where(in_range, y, np.nan), crs)
    return Points(lon, lat, reason, np.vstack([sx, sy]))


def _assign(
    session: Any,
    index: CellIndex,
    chunk: pd.DataFrame,
    points: Points,
    crs: Crs,
    counts: Counter[str],
) -> pd.DataFrame:
    """The chunk with the cell columns and `reason` (why a row has no cell)."""
    valid = np.isfinite(points.lon)
    cell = index.assign_index(points.lon, points.lat)
    assert index.attributes is not None  # built by from_session
    found = index.attributes.reindex(cell).set_axis(chunk.index)  # -1 gives empty columns
    reason = np.where(valid & (cell < 0), OUTSIDE_COVERAGE, points.reason).astype(object)
    swapped = (cell < 0) & (index.assign_index(*points.swapped) >= 0)
    reason[swapped] = [f"{r}. {LOOKS_SWAPPED}" for r in reason[swapped]]
    counts.update(
        rows=len(chunk),
        assigned=int((cell >= 0).sum()),
        outside=int((valid & (cell < 0)).sum()),
        invalid=int((~valid).sum()),
    )
    return chunk.assign(**{c: found[c] for c in CELL_COLUMNS}, reason=reason)


def _by_address(
    session: Any,
    out: pd.DataFrame,
    addresses: pd.Series,
    points: Points,
    release: int | None,
    counts: Counter[str],
) -> pd.DataFrame:
    """Geocode the address of each row its coordinates put in no cell; add match, match_score.

    `reason` then says why the address gives no cell (or why it was placed other than exactly,
    e.g. an ambiguous compound with the districts it exists in), as the geocode API's note does.
    """
    in_cell = out["cell_code"].notna().to_numpy()
    out.insert(out.columns.get_loc("reason"), "match", np.where(in_cell, "coordinates", "none"))
    out.insert(out.columns.get_loc("reason"), "match_score", np.where(in_cell, 1.0, 0.0))
    rows = np.flatnonzero(~in_cell & (addresses.fillna("").astype(str).str.strip() != ""))
    if len(rows) == 0:
        return out
    counts.update(invalid=-int((~np.isfinite(points.lon[rows])).sum()))  # counted by address now
    counts.update(outside=-int(np.isfinite(points.lon[rows]).sum()))
    matches = geocode_many(session, addresses.iloc[rows].tolist(), release=release)
    columns = out.columns.get_indexer(["match", "match_score", *CELL_COLUMNS, "reason"])
    for row, m in zip(rows, matches, strict=True):
        counts.update([f"address {m.match}"])
        by_coordinates = out["reason"].iat[row]
        note = m.note if (m.match != "exact" or m.cell_code is None) else ""
        if by_coordinates != "no coordinates" and note:
            note = f"{by_coordinates}; by address: {note}"
        elif by_coordinates != "no coordinates" and not note:
            note = f"{by_coordinates}; placed by address"
        out.iloc[row, columns] = [m.match, m.score, *(getattr(m, c) for c in CELL_COLUMNS), note]
        points.lon[row], points.lat[row] = (m.lon, m.lat) if m.placed else (np.nan, np.nan)
    return out


def _numeric_columns(frame: pd.DataFrame, coordinates: set[str]) -> dict[str, str]:
    """Text columns of a CSV that hold numbers, for a typed GeoPackage: the coordinates always,
    others when every value of the first chunk is a plain number (codes with leading zeros,
    phone numbers with + and over-long digit strings stay text)."""
    if isinstance(frame, gpd.GeoDataFrame):
        return {}  # a GeoPackage's columns are typed already
    out = {c: COORDINATE for c in coordinates if c in frame.columns}
    for column in frame.columns.difference(list(coordinates)):
        values = frame[column][frame[column] != ""]
        if values.empty:
            continue
        if values.str.fullmatch(r"-?(0|[1-9]\d{0,14})").all():
            out[column] = "Int64"
        elif values.str.fullmatch(r"-?(0|[1-9]\d{0,14})(\.\d+)?([eE][-+]?\d+)?").all():
            out[column] = "Float64"
    return out


def _typed(out: pd.DataFrame, numeric: dict[str, str]) -> pd.DataFrame:
    """Numbers as numbers, empty cells as null. Coordinates that are not numbers become null
    (their `reason` says so); in another column a later chunk's non-number is refused (by row,
    never by value: it may be personal data)."""
    typed = {}
    for column, dtype in numeric.items():
        text = out[column].replace("", None)
        values = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero((values.isna() & text.notna()).to_numpy())
        if dtype != COORDINATE and len(bad):
            fail(
                f"column {column!r} holds numbers in the first chunk but not in line"
                f" {out.index[bad[0]] + 2}; raise --chunk-size to type it from the whole file,"
                " or write a .csv"
            )
        typed[column] = values.astype("Float64" if dtype == COORDINATE else dtype)
    return out.assign(**typed)


def _write(out: pd.DataFrame, path: Path, lon: np.ndarray, lat: np.ndarray, append: bool) -> None:
    if path.suffix.lower() == ".csv":
        if isinstance(out, gpd.GeoDataFrame):
            out = pd.DataFrame(out).assign(geometry=out.geometry.to_wkt())
        out.to_csv(path, mode="a" if append else "w", header=not append, index=False)
        return
    if not isinstance(out, gpd.GeoDataFrame):
        points = np.where(np.isfinite(lon), shapely.points(lon, lat), None)
        out = gpd.GeoDataFrame(out, geometry=points, crs=4326)
    pyogrio.write_dataframe(out, path, layer=path.stem, driver="GPKG", append=append)


def _summary(counts: Counter[str], output: Path) -> None:
    err.print(
        f"{counts['rows']:,} rows: {counts['assigned']:,} in a grid cell, {counts['outside']:,}"
        f" outside the covered area, {counts['invalid']:,} without valid coordinates.",
        highlight=False,
    )
    by_address = {k.split()[1]: v for k, v in sorted(counts.items()) if k.startswith("address ")}
    if by_address:
        err.print("By address: " + ", ".join(f"{k} {v:,}" for k, v in by_address.items()) + ".")
    err.print(f"Written: {output}", highlight=False)
