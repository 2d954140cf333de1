"""Install the vendored front-end files listed in `maps.vendor.manifest` from the npm registry.

Run at set-up time (or after editing the manifest), then commit ``maps/static/vendor``::

    python -m maps.vendor.fetch           # install what is missing or stale; fast when done
    python -m maps.vendor.fetch --check   # exit 1 if anything is missing or stale; no network
    python -m maps.vendor.fetch --force   # reinstall everything

Tarballs come from ``npm pack`` (which checks them against the registry's integrity hash and
runs no package scripts). ``vendor.lock.json`` records each folder's manifest fingerprint and
the SHA-256 of every file, so a later run can tell in milliseconds that nothing needs doing,
and a hand-edited or half-written folder is noticed and reinstalled.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from maps.vendor.manifest import BUNDLES, VENDOR_DIR, Bundle

LOCK_PATH = VENDOR_DIR / "vendor.lock.json"
README_PATH = VENDOR_DIR / "README.md"


class Tarball:
    """The regular files of one npm tarball, by path relative to the package root."""

    def __init__(self, path: Path) -> None:
        self.files: dict[str, bytes] = {}
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                # npm tarballs put everything under one top folder, usually "package/".
                rel = member.name.split("/", 1)[-1]
                extracted = tar.extractfile(member)
                assert extracted is not None  # regular files always have content
                self.files[rel] = extracted.read()

    def read(self, rel: str) -> bytes:
        try:
            return self.files[rel]
        except KeyError:
            raise FileNotFoundError(f"{rel} is not in the tarball") from None

    def select(self, patterns: Iterable[str]) -> dict[str, bytes]:
        """Files matching any of `patterns`; each pattern must match at least one file."""
        chosen: dict[str, bytes] = {}
        for pattern in patterns:
            hits = {k: v for k, v in self.files.items() if fnmatch.fnmatchcase(k, pattern)}
            if not hits:
                raise FileNotFoundError(f"no file in the tarball matches {pattern!r}")
            chosen.update(hits)
        return chosen


# ---- builders of derived files, named in Bundle.derived ----------------------------------


def _top_level_rules(css: str) -> list[str]:
    """Split a stylesheet into its top-level rules (nested @media blocks stay whole)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules, depth, start = [], 0, 0
    for i, char in enumerate(css):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                rules.append(css[start : i + 1].strip())
                start = i + 1
    return rules


def glyphicons_css(tarball: Tarball | None) -> dict[str, bytes]:
    """Bootstrap 3's glyphicons alone: its @font-face and the rules on .glyphicon* only."""
    assert tarball is not None
    bootstrap_css = tarball.read("dist/css/bootstrap.css").decode()
    kept = []
    for rule in _top_level_rules(bootstrap_css):
        selectors = [s.strip() for s in rule.split("{", 1)[0].split(",")]
        if (selectors == ["@font-face"] and "Glyphicons Halflings" in rule) or all(
            s.startswith(".glyphicon") for s in selectors
        ):
            kept.append(rule)
    header = (
        "/*! Glyphicons Halflings rules of Bootstrap v3.4.1 (https://getbootstrap.com/)\n"
        " * Copyright 2011-2019 Twitter, Inc. Licensed under MIT. Extracted by\n"
        " * maps/vendor/fetch.py from dist/css/bootstrap.css. */\n"
    )
    return {"dist/css/bootstrap-glyphicons.css": (header + "\n".join(kept) + "\n").encode()}


def awesome_rotate_css(tarball: Tarball | None) -> dict[str, bytes]:
    """The .fa-rotate-N classes that folium's Icon(angle=N) puts on awesome-markers."""
    rules = (f".fa-rotate-{n}{{transform:rotate({n}deg)}}" for n in range(361))
    return {"leaflet.awesome.rotate.min.css": ("\n".join(rules) + "\n").encode()}


REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_SVG = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


def redoc_offline(tarball: Tarball | None) -> dict[str, bytes]:
    """ReDoc's standalone bundle without its one request to another host (the side menu's
    Redocly logo). Exactly one occurrence, so a new version that fetches more fails here."""
    assert tarball is not None
    script = tarball.read("bundles/redoc.standalone.js")
    if script.count(REDOC_LOGO) != 1:
        raise ValueError(f"expected one {REDOC_LOGO.decode()} in redoc.standalone.js")
    return {"bundles/redoc.standalone.js": script.replace(REDOC_LOGO, EMPTY_SVG)}


BUILDERS: dict[str, Callable[[Tarball | None], dict[str, bytes]]] = {
    "glyphicons_css": glyphicons_css,
    "awesome_rotate_css": awesome_rotate_css,
    "redoc_offline": redoc_offline,
}


# ---- lock and staleness ----------------------------------------------------------------


def fingerprint(bundle: Bundle) -> str:
    """Hash of what decides a folder's content; licence and notes do not."""
    key = {k: asdict(bundle)[k] for k in ("npm", "files", "derived")}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_lock() -> dict[str, dict]:
    return json.loads(LOCK_PATH.read_text()) if LOCK_PATH.exists() else {}


def stale_reason(bundle: Bundle, lock: dict[str, dict]) -> str | None:
    """Why `bundle`'s folder needs (re)installing, or None if it is up to date."""
    entry = lock.get(bundle.dest)
    if entry is None:
        return "not installed"
    if entry["fingerprint"] != fingerprint(bundle):
        return "manifest changed"
    folder = VENDOR_DIR / bundle.dest
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    if on_disk != set(entry["files"]):
        return f"files differ from the lock: {sorted(on_disk ^ set(entry['files']))}"
    for rel, digest in entry["files"].items():
        if _sha256((folder / rel).read_bytes()) != digest:
            return f"{rel} was modified"
    return None


def stale_bundles(bundles: Sequence[Bundle] = BUNDLES) -> list[tuple[Bundle, str]]:
    """Bundles whose folder is missing or differs from the manifest and lock, with why."""
    lock = load_lock()
    found = [(b, stale_reason(b, lock)) for b in bundles]
    return [(b, reason) for b, reason in found if reason is not None]


# ---- install -----------------------------------------------------------------------------


def npm_pack(specs: Sequence[str], workdir: Path) -> dict[str, Path]:
    """Download the tarballs of `specs` (``name@version``) with one ``npm pack`` call."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not on PATH (Debian: apt-get install -y npm)")
    out = subprocess.run(
        [npm, "pack", "--json", "--ignore-scripts", "--pack-destination", str(workdir), *specs],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    packed = {f"{i['name']}@{i['version']}": workdir / i["filename"] for i in json.loads(out)}
    missing = set(specs) - set(packed)
    if missing:
        raise SystemExit(f"npm pack did not return {sorted(missing)}")
    return packed


def build(bundle: Bundle, tarball: Tarball | None) -> dict[str, bytes]:
    """All files of `bundle`'s folder, by path relative to it."""
    files = tarball.select(bundle.files) if tarball else {}
    for name in bundle.derived:
        files.update(BUILDERS[name](tarball))
    return files


def install(bundle: Bundle, files: dict[str, bytes]) -> dict[str, str]:
    """Replace `bundle`'s folder with `files`; return their SHA-256 by relative path."""
    folder = VENDOR_DIR / bundle.dest
    shutil.rmtree(folder, ignore_errors=True)  # drop files an older version had
    for rel, data in files.items():
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(f"refusing to write {rel!r} outside {folder}")
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return {rel: _sha256(data) for rel, data in sorted(files.items())}


def readme(lock: dict[str, dict]) -> str:
    """README.md of the vendor folder: where each file comes from and under which licence."""
    lines = [
        "# Vendored front-end files",
        "",
        "Generated by `python -m maps.vendor.fetch` from `maps/vendor/manifest.py`: do not edit.",
        "",
        "Leaflet, folium's plugins and their CSS, images and fonts, and the API docs' Swagger UI",
        "and ReDoc, served by our own app so that maps and docs work with no CDN.",
        "`maps.offline` points folium's links here, `api/routes/docs.py` the docs pages'; files",
        "keep their path inside the npm package. `vendor.lock.json` holds each file's SHA-256.",
        "To vendor a new plugin or version: edit the manifest, run the command above, and",
        "commit this folder (`--check` tells whether it is in step with the manifest).",
        "",
        "| file | from | licence | bytes |",
        "| --- | --- | --- | ---: |",
    ]
    total = count = 0
    for bundle in BUNDLES:
        for rel in lock[bundle.dest]["files"]:
            size = (VENDOR_DIR / bundle.dest / rel).stat().st_size
            derived = bundle.npm is None or not any(
                fnmatch.fnmatchcase(rel, p) for p in bundle.files
            )
            source = "derived, see note" if derived else f"npm `{bundle.npm}`"
            lines.append(f"| `{bundle.dest}/{rel}` | {source} | {bundle.licence} | {size} |")
            total, count = total + size, count + 1
    lines += ["", f"{count} files, {total / 1024:.0f} KiB in all.", "", "## Notes", ""]
    lines += [f"- `{b.dest}`: {b.note}" for b in BUNDLES if b.note]
    return "\n".join(lines) + "\n"


def fetch(*, force: bool = False) -> list[str]:
    """Install every missing or stale bundle; return the folders (re)installed."""
    lock = load_lock()
    todo = [b for b in BUNDLES if force or stale_reason(b, lock) is not None]
    if todo:
        with tempfile.TemporaryDirectory(prefix="houniao-vendor-") as tmp:
            specs = sorted({b.npm for b in todo if b.npm})
            packed = npm_pack(specs, Path(tmp)) if specs else {}
            tarballs = {spec: Tarball(path) for spec, path in packed.items()}
            for bundle in todo:
                files = build(bundle, tarballs.get(bundle.npm) if bundle.npm else None)
                lock[bundle.dest] = {
                    "fingerprint": fingerprint(bundle),
                    "source": f"npm:{bundle.npm}" if bundle.npm else "generated",
                    "files": install(bundle, files),
                }
    # Folders no longer in the manifest go, so nothing unlisted is served.
    for dest in set(lock) - {b.dest for b in BUNDLES}:
        shutil.rmtree(VENDOR_DIR / dest, ignore_errors=True)
        del lock[dest]
    _write_if_changed(LOCK_PATH, json.dumps(lock, indent=2, sort_keys=True) + "\n")
    _write_if_changed(README_PATH, readme(lock))
    return [b.dest for b in todo]


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if stale")
    parser.add_argument("--force", action="store_true", help="reinstall every bundle")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_bundles()
        for bundle, reason in stale:
            print(f"{bundle.dest}: {reason}", file=sys.stderr)
        return 1 if stale else 0
    done = fetch(force=args.force)
    print(f"vendored: {', '.join(done)}" if done else "vendor files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
