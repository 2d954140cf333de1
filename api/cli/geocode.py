"""`houniao geocode IN OUT`: points (or addresses) of a CSV or GeoPackage to grid cells.

The cells come from one `geo.batch.CellIndex`, built once, which answers exactly as
`houniao locate` does, shared edges included. Rows are read and written in chunks, so files of
millions of rows fit in memory and show a progress bar.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import typer
from pyproj import CRS, Transformer

from api.cli.output import domain_errors, err, fail, progress_bar
from geo.batch import CellIndex
from geo.crs import Crs, parse_crs, to_wgs84
from geo.db import session_scope

try:  # address geocoding lives in geo.addresses; without it rows lacking coordinates stay unplaced
    from geo.addresses.geocode import geocode_many
except ImportError:  # pragma: no cover - depends on the installed modules
    geocode_many = None  # type: ignore[assignment]

CELL_COLUMNS = [
    "cell_code", "cell_name", "community_code", "community_name",
    "street_code", "street_name", "district_code", "district_name",
]
SUFFIXES = {".csv": "CSV", ".gpkg": "GeoPackage"}
_IO_ERRORS = (
    OSError, UnicodeError, LookupError, pd.errors.ParserError, pd.errors.EmptyDataError,
    pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
)


def register(app: typer.Typer) -> None:
    app.command("geocode")(geocode)


def geocode(
    input: Path = typer.Argument(..., help="CSV or GeoPackage (.gpkg) to read"),
    output: Path = typer.Argument(..., help="CSV or GeoPackage to write, chosen by the suffix"),
    lon_col: str = typer.Option("lon", help="longitude column (GeoPackage: else point geometry)"),
    lat_col: str = typer.Option("lat", help="latitude column"),
    address_col: str | None = typer.Option(
        None, help="address column, geocoded for rows without usable coordinates"
    ),
    crs: str = typer.Option("wgs84", help="the coordinates' system: wgs84|cgcs2000|gcj02|bd09"),
    release: int | None = typer.Option(None, help="boundary release id; default the active one"),
    encoding: str = typer.Option("utf-8-sig", help="CSV text encoding (e.g. gb18030)"),
    chunk_size: int = typer.Option(100_000, min=1, help="rows per chunk"),
) -> None:
    """Add cell, community, street and district (codes and names) to every row of a file."""
    with domain_errors():
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
        if address_col is not None and geocode_many is None:
            err.print("No address geocoder installed: rows without coordinates get match=none.")
        output.unlink(missing_ok=True)
        counts: Counter[str] = Counter()
        with session_scope() as session, progress_bar() as bar:
            task = bar.add_task("indexing grid cells", total=total)
            index = CellIndex.from_session(session, release)
            bar.update(task, description=f"geocoding {input.name}")
            try:
                for i, chunk in enumerate(_chain(first, chunks)):
                    lon, lat = _coordinates(chunk, coords, lon_col, lat_col, source_crs)
                    out = _assign(session, index, chunk, lon, lat, address_col, release, counts)
                    try:
                        _write(out, output, lon, lat, append=i > 0)
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
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding,
                             chunksize=size)
    except _IO_ERRORS as exc:
        fail(f"cannot read {path}: {exc}")
    return max(lines - 1, 0), _guarded(path, reader)


def _guarded(path: Path, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """CSV chunks are parsed lazily: a bad line or encoding surfaces here, as a clear error."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except _IO_ERRORS as exc:
            fail(f"cannot read {path}: {exc}")
        yield chunk


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
    fail(f"no column {', '.join(map(repr, missing))}; the columns are: {', '.join(columns)}"
         " (name them with --lon-col/--lat-col)")


def _coordinates(
    chunk: pd.DataFrame, coords: str, lon_col: str, lat_col: str, crs: Crs
) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat; NaN where missing, not numeric, infinite or out of range."""
    if coords == "none":
        return np.full(len(chunk), np.nan), np.full(len(chunk), np.nan)
    if coords == "geometry":
        points = chunk.geometry.where(chunk.geometry.geom_type == "Point")
        x, y = points.x.to_numpy(float), points.y.to_numpy(float)
        file_crs = chunk.crs
        if file_crs is not None and file_crs.to_epsg() not in (4326, 4490):
            if crs not in (Crs.wgs84, Crs.cgcs2000):
                fail(f"--crs {crs.value} names lon/lat, but the file's points are in {file_crs}")
            to_4326 = Transformer.from_crs(file_crs, CRS.from_epsg(4326), always_xy=True)
            x, y = to_4326.transform(x, y)
    else:
        x = pd.to_numeric(chunk[lon_col], errors="coerce").to_numpy(float)
        y = pd.to_numeric(chunk[lat_col], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    x, y = np.where(bad, np.nan, x), np.where(bad, np.nan, y)
    return to_wgs84(x, y, crs)


def _assign(
    session: Any, index: CellIndex, chunk: pd.DataFrame, lon: np.ndarray, lat: np.ndarray,
    address_col: str | None, release: int | None, counts: Counter[str],
) -> pd.DataFrame:
    valid = np.isfinite(lon)
    cell = index.assign_index(lon, lat)
    assert index.attributes is not None  # built by from_session
    found = index.attributes.reindex(cell).set_axis(chunk.index)  # -1 gives empty columns
    counts.update(rows=len(chunk), assigned=int((cell >= 0).sum()),
                  outside=int((valid & (cell < 0)).sum()))
    out = chunk.assign(**{c: found[c] for c in CELL_COLUMNS})
    if address_col is None:
        counts.update(invalid=int((~valid).sum()))
        return out
    out["match"] = np.where(valid, "coordinates", "none")
    out["match_score"] = np.where(valid, 1.0, 0.0)
    rows = np.flatnonzero(~valid & (chunk[address_col].fillna("").str.strip() != ""))
    counts.update(invalid=int((~valid).sum()) - len(rows))
    if len(rows) == 0:
        return out
    if geocode_many is None:
        counts.update(**{"address none": len(rows)})
        return out
    matches = geocode_many(session, chunk[address_col].iloc[rows].tolist(), release=release)
    for row, m in zip(rows, matches, strict=True):
        counts.update([f"address {m.match}"])
        out.iloc[row, out.columns.get_indexer(["match", "match_score", *CELL_COLUMNS])] = [
            m.match, m.score, *(getattr(m, c) for c in CELL_COLUMNS)
        ]
        lon[row], lat[row] = (m.lon, m.lat) if m.placed else (np.nan, np.nan)
    return out


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
