"""Copy the dashboard's front-end libraries from ``frontend/node_modules`` into the package.

Run at set-up (``make install`` runs ``python -m forewarn.web.dashboard.vendor``) after
``npm ci --prefix frontend``: regulators' networks are often cut off from the internet, so the
libraries are installed from the npm registry once and then served by forewarn from
``/static/vendor/``; nothing is fetched at run time. The files are generated, not committed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["FILES", "VENDOR_DIR", "copy_vendor", "missing_vendor_files"]

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"

#: (path inside node_modules, name under static/vendor); a folder is copied whole
FILES: tuple[tuple[str, str], ...] = (
    ("echarts/dist/echarts.min.js", "echarts.min.js"),
    ("leaflet/dist/leaflet.js", "leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet.css"),
    ("leaflet/dist/images", "images"),
    ("supercluster/dist/supercluster.min.js", "supercluster.min.js"),
)


def missing_vendor_files(folder: Path = VENDOR_DIR) -> list[str]:
    """The vendor files a served dashboard needs that are not there (empty: ready)."""
    return [name for _, name in FILES if not (folder / name).exists()]


def copy_vendor(node_modules: Path, folder: Path = VENDOR_DIR) -> list[str]:
    """Copy every library file; the names of those copied. Raises FileNotFoundError naming
    the first file npm did not install."""
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for source, name in FILES:
        src = node_modules / source
        if not src.exists():
            raise FileNotFoundError(f"{src} is missing: run 'npm ci --prefix frontend' first")
        dst = folder / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dst)
        copied.append(name)
    _after_copy(node_modules)
    return copied


def _after_copy(node_modules: Path) -> None:
    """Set-up steps that need other npm packages (the demo's region outlines)."""
    try:
        from forewarn.geo.outlines import convert_demo_outlines  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    convert_demo_outlines(node_modules)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    node_modules = Path(args[0]) if args else Path("frontend/node_modules")
    try:
        copied = copy_vendor(node_modules)
    except FileNotFoundError as exc:
        print(f"forewarn: error: {exc}", file=sys.stderr)
        return 2
    print(f"dashboard libraries copied into {VENDOR_DIR}: {', '.join(copied)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
