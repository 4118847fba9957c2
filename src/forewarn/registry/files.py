"""Registry files: read and write the CSV and XLSX sheets regulators keep their devices in.

A *devices* sheet has one row per data collector with its site, enterprise and region; a
*points* sheet maps (MN, code, sub-field) to a named quantity with unit and limits. Which one a
sheet is, is told by its header. Every mistake is reported with its file, row and column,
all of them at once, so a person can fix the sheet in one pass.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path
from typing import TextIO

from forewarn.access.scope import region_prefix
from forewarn.catalogue import Catalogue
from forewarn.protocols.hj212.codec import Quirk
from forewarn.store.base import DeviceRow, PointRow, RegionRow

__all__ = [
    "BAD_ID_CHARS",
    "DEVICE_COLUMNS",
    "PROTOCOLS",
    "QUIRKS",
    "POINT_COLUMNS",
    "REGION_COLUMNS",
    "RegistryFileError",
    "RegistrySheets",
    "division_code_problem",
    "nesting_problem",
    "read_registry_files",
    "write_devices_csv",
    "write_regions_csv",
    "write_points_csv",
    "write_xlsx",
]

DEVICE_REQUIRED = (
    "region_code", "region_name", "enterprise", "site", "site_type",
    "longitude", "latitude", "mn", "password",
)
DEVICE_OPTIONAL = (
    "parent_region_code", "protocol", "interval_s", "leniency", "device_kind", "site_status",
)
DEVICE_COLUMNS = DEVICE_REQUIRED + DEVICE_OPTIONAL
POINT_REQUIRED = ("mn", "code", "field")
POINT_OPTIONAL = ("name", "quantity", "unit", "lower", "upper", "role")
POINT_COLUMNS = POINT_REQUIRED + POINT_OPTIONAL
REGION_COLUMNS = ("region_code", "region_name", "parent_region_code")
PROTOCOLS = ("hj212",)
QUIRKS = {q.value for q in Quirk}
BAD_ID_CHARS = set(";,&=\r\n")


class RegistryFileError(Exception):
    """A registry file that cannot be imported; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[str]) -> None:
        if len(problems) == 1:
            text = problems[0]
        else:
            shown = "\n".join(f"  {p}" for p in problems[:20])
            more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            text = f"{len(problems)} problems, nothing imported:\n{shown}{more}"
        super().__init__(text)
        self.problems = problems


@dataclass(slots=True)
class RegistrySheets:
    """What registry files hold: regions, devices (with sites and enterprises) and points."""

    regions: list[RegionRow] = field(default_factory=list)
    devices: list[DeviceRow] = field(default_factory=list)
    points: list[PointRow] = field(default_factory=list)

    def extend(self, other: RegistrySheets) -> None:
        self.regions.extend(other.regions)
        self.devices.extend(other.devices)
        self.points.extend(other.points)


def read_registry_files(paths: list[Path], catalogue: Catalogue) -> RegistrySheets:
    """Regions, devices and points from CSV or XLSX files (every sheet of a workbook).

    All files are checked before anything is returned, duplicates across files included, and
    every problem found is reported at once.
    """
    found = RegistrySheets()
    problems: list[str] = []
    for path in paths:
        found.extend(_read_file(path, catalogue, problems))
    _check_duplicates(found.devices, found.points, problems)
    if problems:
        raise RegistryFileError(problems)
    return found


def _read_file(path: Path, catalogue: Catalogue, problems: list[str]) -> RegistrySheets:
    found = RegistrySheets()
    if not path.is_file():
        problems.append(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
        return found
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheets = list(_xlsx_sheets(path))
    elif suffix in (".csv", ".txt"):
        sheets = [(str(path), _csv_rows(path))]
    else:
        problems.append(f"{path}: use a .csv or .xlsx file")
        return found
    if not any(len(rows) > 1 for _, rows in sheets):
        problems.append(f"{path}: holds no rows below a header")
        return found
    for where, rows in sheets:
        if not rows:
            continue
        header = [_norm_header(h) for h in rows[0]]
        body = rows[1:]
        if set(POINT_REQUIRED) <= set(header) and "enterprise" not in header:
            found.points.extend(_points(where, header, body, problems))
        elif "mn" in header and "enterprise" in header:
            found.devices.extend(_devices(where, header, body, catalogue, problems))
        elif "region_code" in header and "mn" not in header:
            found.regions.extend(_regions(where, header, body, problems))
        else:
            problems.append(
                f"{where}: header is not a devices sheet (needs {', '.join(DEVICE_REQUIRED)}), "
                f"a points sheet (needs {', '.join(POINT_REQUIRED)}) "
                f"or a regions sheet (needs {', '.join(REGION_COLUMNS[:2])})"
            )
    return found


def _norm_header(text: object) -> str:
    return str(text or "").strip().lstrip("\ufeff").lower()


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise RegistryFileError([f"{path}: is not a text file (an .xlsx renamed to .csv?)"])
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RegistryFileError([f"{path}: not UTF-8 or GBK text"])
    return [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]


def _xlsx_sheets(path: Path) -> Iterator[tuple[str, list[list[str]]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise RegistryFileError([f"{path}: cannot be read as a workbook ({exc})"]) from exc
    try:
        for sheet in book.worksheets:
            rows = [
                ["" if v is None else str(v) for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
            yield f"{path}[{sheet.title}]", [r for r in rows if any(c.strip() for c in r)]
    finally:
        book.close()


def _records(
    where: str, header: list[str], body: list[list[str]], required: tuple[str, ...],
    known: tuple[str, ...], problems: list[str],
) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row as a dict, with its place for messages; checks the header first."""
    unknown = [h for h in header if h and h not in known]
    if unknown:
        problems.append(f"{where}: unknown column(s) {', '.join(unknown)} (known: {', '.join(known)})")
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(f"{where}: missing column(s) {', '.join(missing)}")
        return
    for number, row in enumerate(body, start=2):
        record = {h: (_unquoted(row[i].strip()) if i < len(row) else "") for i, h in enumerate(header) if h}
        yield f"{where} row {number}", record


#: a text cell that Excel would run as a formula starts with one of these; exports write it behind
#: a ' (Excel shows the text, hides the quote) and imports take the quote off again
_FORMULA_START = ("=", "+", "-", "@")


def _quoted(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _unquoted(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def division_code_problem(code: str) -> str | None:
    if code.isascii() and code.isdigit() and len(code) in (6, 9, 12):
        return None
    return f"region_code {code!r} is not an administrative division code (6 digits)"


def nesting_problem(code: str, parent: str) -> str | None:
    """GB/T 2260 codes nest: a region's code starts with its parent's prefix (451221 under
    451200, not under 140200), which also rules out a region under itself."""
    if not code or not parent:
        return None
    if parent == code or not code.startswith(region_prefix(parent)):
        return (f"parent_region_code {parent} cannot hold region {code}: "
                f"its code would start with {region_prefix(parent)}")
    return None


def _regions(
    where: str, header: list[str], body: list[list[str]], problems: list[str]
) -> Iterator[RegionRow]:
    for at, r in _records(where, header, body, REGION_COLUMNS[:2], REGION_COLUMNS, problems):
        errors = [f"{c} is empty" for c in REGION_COLUMNS[:2] if not r.get(c)]
        for column in ("region_code", "parent_region_code"):
            code = r.get(column, "")
            problem = division_code_problem(code) if code else None
            if problem:
                errors.append(problem.replace("region_code", column, 1))
        nesting = nesting_problem(r.get("region_code", ""), r.get("parent_region_code", ""))
        if nesting:
            errors.append(nesting)
        if errors:
            problems.extend(f"{at}: {e}" for e in errors)
            continue
        yield RegionRow(r["region_code"], r["region_name"], r.get("parent_region_code", ""))


def _devices(
    where: str, header: list[str], body: list[list[str]], catalogue: Catalogue,
    problems: list[str],
) -> Iterator[DeviceRow]:
    for at, r in _records(where, header, body, DEVICE_REQUIRED, DEVICE_COLUMNS, problems):
        errors: list[str] = []
        for column in ("region_code", "region_name", "enterprise", "site", "mn"):
            if not r.get(column):
                errors.append(f"{column} is empty")
        code = r.get("region_code", "")
        code_problem = division_code_problem(code) if code else None
        if code_problem:
            errors.append(code_problem)
        nesting = nesting_problem(code, r.get("parent_region_code", ""))
        if nesting:
            errors.append(nesting)
        site_type = catalogue.site_type_id(r.get("site_type", ""))
        if site_type is None:
            errors.append(
                f"site_type {r.get('site_type')!r} is unknown (one of: {', '.join(catalogue.site_types)})"
            )
        # a site may have no position yet (it is then not on the map); the columns stay required
        lon = _float(r.get("longitude", ""), "longitude", errors, optional=True)
        lat = _float(r.get("latitude", ""), "latitude", errors, optional=True)
        if lon is not None and lat is not None:
            if abs(lat) > 90 and abs(lon) <= 90 and abs(lat) <= 180:
                errors.append(f"longitude {lon} and latitude {lat} look swapped")
            elif not (-180 <= lon <= 180 and -90 <= lat <= 90):
                errors.append(f"longitude {lon} / latitude {lat} out of range")
        mn = r.get("mn", "")
        if mn and (len(mn) > 64 or set(mn) & BAD_ID_CHARS or not (mn.isascii() and mn.isprintable())):
            errors.append(f"mn {mn!r} is not a valid HJ 212 MN (at most 64 printable ASCII characters, no ; , & =)")
        password = r.get("password", "")
        if len(password) > 64 or set(password) & BAD_ID_CHARS:
            errors.append("password may not hold ; , & = or exceed 64 characters")
        protocol = r.get("protocol") or "hj212"
        if protocol not in PROTOCOLS:
            errors.append(f"protocol {protocol!r} is not supported (one of: {', '.join(PROTOCOLS)})")
        interval = r.get("interval_s") or "60"
        if not (interval.isascii() and interval.isdigit()) or int(interval) <= 0:
            errors.append(f"interval_s {interval!r} must be a whole number of seconds > 0")
        leniency = [q.strip() for q in (r.get("leniency") or "").replace(",", "|").split("|") if q.strip()]
        bad = [q for q in leniency if q not in QUIRKS]
        if bad:
            errors.append(f"leniency {'|'.join(bad)} unknown (known: {', '.join(sorted(QUIRKS))})")
        if errors:
            problems.extend(f"{at}: {e}" for e in errors)
            continue
        assert site_type is not None
        yield DeviceRow(
            region_code=code, region_name=r["region_name"],
            parent_region_code=r.get("parent_region_code", ""), enterprise=r["enterprise"],
            site=r["site"], site_type=site_type, mn=mn, longitude=lon, latitude=lat,
            password=password, protocol=protocol, interval_s=int(interval),
            leniency="|".join(leniency), device_kind=r.get("device_kind", ""),
            site_status=r.get("site_status") or "active",
        )


def _points(
    where: str, header: list[str], body: list[list[str]], problems: list[str]
) -> Iterator[PointRow]:
    for at, r in _records(where, header, body, POINT_REQUIRED, POINT_COLUMNS, problems):
        errors = [f"{c} is empty" for c in POINT_REQUIRED if not r.get(c)]
        lower = _float(r.get("lower", ""), "lower", errors, optional=True)
        upper = _float(r.get("upper", ""), "upper", errors, optional=True)
        if lower is not None and upper is not None and lower > upper:
            errors.append(f"lower {lower} is above upper {upper}")
        if errors:
            problems.extend(f"{at}: {e}" for e in errors)
            continue
        yield PointRow(
            mn=r["mn"], code=r["code"], field=r["field"], name=r.get("name", ""),
            quantity=r.get("quantity", ""), unit=r.get("unit", ""), lower=lower, upper=upper,
            role=r.get("role", ""),
        )


def _float(text: str, name: str, errors: list[str], optional: bool = False) -> float | None:
    if not text:
        if not optional:
            errors.append(f"{name} is empty")
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(f"{name} {text!r} is not a number")
        return None
    if not math.isfinite(value):
        errors.append(f"{name} {text!r} is not a finite number")
        return None
    return value


def _check_duplicates(devices: list[DeviceRow], points: list[PointRow], problems: list[str]) -> None:
    seen: dict[str, DeviceRow] = {}
    for d in devices:
        if d.mn in seen and seen[d.mn] != d:
            problems.append(f"mn {d.mn} appears twice with different rows")
        seen[d.mn] = d
    keys: set[tuple[str, str, str]] = set()
    for p in points:
        key = (p.mn, p.code, p.field)
        if key in keys:
            problems.append(f"point {p.mn} {p.code}-{p.field} appears twice")
        keys.add(key)


# ------------------------------------------------------------------------------ writing


def _device_cells(d: DeviceRow) -> list[object]:
    values = {f.name: v for f, v in zip(fields(DeviceRow), astuple(d), strict=True)}
    values["site_status"] = d.site_status
    return [values[c] if values[c] is not None else "" for c in DEVICE_COLUMNS]


def _point_cells(p: PointRow) -> list[object]:
    values = {f.name: v for f, v in zip(fields(PointRow), astuple(p), strict=True)}
    return [values[c] if values[c] is not None else "" for c in POINT_COLUMNS]


def _write_csv(out: TextIO, header: Iterable[str], rows: Iterable[list[object]]) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(header))
    w.writerows([_quoted(v) for v in row] for row in rows)


def write_regions_csv(out: TextIO, regions: list[RegionRow]) -> None:
    _write_csv(out, REGION_COLUMNS, ([r.code, r.name, r.parent_code] for r in regions))


def write_devices_csv(out: TextIO, devices: list[DeviceRow]) -> None:
    _write_csv(out, DEVICE_COLUMNS, (_device_cells(d) for d in devices))


def write_points_csv(out: TextIO, points: list[PointRow]) -> None:
    _write_csv(out, POINT_COLUMNS, (_point_cells(p) for p in points))


def write_xlsx(path: Path, sheets: RegistrySheets) -> None:
    """A workbook with regions, devices and points sheets, re-importable as it is."""
    from openpyxl import Workbook

    devices, points = sheets.devices, sheets.points
    book = Workbook()
    regions = book.active
    assert regions is not None
    regions.title = "regions"
    regions.append(list(REGION_COLUMNS))
    for r in sheets.regions:
        regions.append([r.code, r.name, r.parent_code])
    sheet = book.create_sheet("devices")
    sheet.append(list(DEVICE_COLUMNS))
    for d in devices:
        sheet.append(_device_cells(d))
    points_sheet = book.create_sheet("points")
    points_sheet.append(list(POINT_COLUMNS))
    for p in points:
        points_sheet.append(_point_cells(p))
    for ws in book.worksheets:  # text is text: openpyxl would store "=..." as a live formula
        for cells in ws.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
    book.save(path)
