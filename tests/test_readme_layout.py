"""README's "Inside geo/" table says what geo/ really holds: every module it names exists in its
row's package, and every package of geo/ has a row or is named (`boundaries/`) in its parent's.
A move or a new package that leaves the table behind fails here, not in a newcomer's afternoon.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEO = ROOT / "geo"
TICKED = re.compile(r"`([^`]+)`")


def rows() -> list[tuple[list[str], list[str]]]:
    """(packages, names) of each row: `geo/...` of the first column, ticked names of the rest."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("### Inside `geo/`", 1)[1].strip().split("\n\n", 1)[0]
    found = []
    for line in table.splitlines()[2:]:  # past the header and its rule
        first, *rest = line.strip("|").split("|")
        packages = [p.rstrip("/") for p in TICKED.findall(first) if p.startswith("geo/")]
        names = [n for cell in rest for n in TICKED.findall(cell)]
        found.append((packages, names))
    return found


def test_the_table_is_read():
    assert len(rows()) >= 15 and all(packages for packages, _ in rows())


def _there(packages: list[str], name: str) -> bool:
    """Whether a ticked name is a module (`x.py`, globs allowed) or folder (`x/`) of a package;
    other ticked text (commands, columns, `rotate-keys`) is not a path and passes."""
    if re.fullmatch(r"[\w*]+\.py", name):
        return any(any((ROOT / p).rglob(name)) for p in packages)
    if re.fullmatch(r"\w+/", name):
        return any((ROOT / p / name).is_dir() for p in packages)
    return True


def test_every_module_the_table_names_is_in_its_package():
    missing = [
        f"{', '.join(packages)}: {name}"
        for packages, names in rows()
        for name in names
        if not _there(packages, name)
    ]
    assert not missing, "README's geo/ table names what is not there:\n" + "\n".join(missing)


def test_every_package_of_geo_has_a_place_in_the_table():
    covered: set[Path] = set()
    for packages, names in rows():
        for p in packages:
            covered.add(ROOT / p)
            covered |= {ROOT / p / n.rstrip("/") for n in names if re.fullmatch(r"\w+/", n)}
    holding_modules = {
        init.parent
        for init in GEO.rglob("__init__.py")
        if init.parent != GEO and any(m.name != "__init__.py" for m in init.parent.glob("*.py"))
    }
    absent = sorted(str(p.relative_to(ROOT)) for p in holding_modules - covered)
    assert not absent, "packages of geo/ missing from README's table:\n" + "\n".join(absent)
