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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TextIO

from forewarn.access.scope import region_prefix
from forewarn.catalogue import Catalogue
from forewarn.protocols.hj212.quirks import LENIENCY_WORDS
from forewarn.store.base import DeviceRow, PointRow, RegionRow

__all__ = [
    "BAD_ID_CHARS",
    "CAMERA_COLUMNS",
    "CameraSheetRow",
    "DEVICE_COLUMNS",
    "Finding",
    "PROTOCOLS",
    "QUIRKS",
    "POINT_COLUMNS",
    "REGION_COLUMNS",
    "SITE_STATUSES",
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
#: a cameras sheet: a site's cameras (forewarn.registry.camera_sheet applies it)
CAMERA_REQUIRED = ("enterprise", "site", "camera")
CAMERA_COLUMNS = CAMERA_REQUIRED + ("live_url", "snapshot_url")
#: how a device talks: it sends HJ 212 (over TCP, MQTT or HTTP), or forewarn polls it over Modbus TCP
#: (its register map: forewarn modbus import)
PROTOCOLS = ("hj212", "modbus")
QUIRKS = LENIENCY_WORDS  # the quirk names and 'strict' (forewarn.protocols.hj212.quirks)
BAD_ID_CHARS = set(";,&=\r\n")
#: a site's lifecycle as the environment bureau manages it (see :mod:`forewarn.registry.lifecycle`)
SITE_STATUSES = ("new", "active", "maintenance", "stopped", "retired")


@dataclass(frozen=True, slots=True)
class Finding:
    """One mistake in a sheet, where a person finds it: the file (a workbook's sheet in
    brackets), the row as Excel numbers it (the header is row 1; None: the file or its header
    as a whole) and the column (None: the whole row), and what is wrong."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.message}" if self.row is not None else f"{self.file}: {self.message}"


class RegistryFileError(Exception):
    """A registry file that cannot be imported; ``findings`` lists every mistake found
    (``problems``: the same as lines of text)."""

    def __init__(self, findings: list[Finding]) -> None:
        problems = [str(f) for f in findings]
        if len(problems) == 1:
            text = problems[0]
        else:
            shown = "\n".join(f"  {p}" for p in problems[:20])
            more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            text = f"{len(problems)} problems, nothing imported:\n{shown}{more}"
        super().__init__(text)
        self.findings = findings
        self.problems = problems


#: where a row came from: (file, row number)
Place = tuple[str, int]


@dataclass(slots=True)
class RegistrySheets:
    """What registry files hold: regions, devices (with sites and enterprises) and points, and
    where each row was read (so that a check made later, against the database, can still name
    the file and row)."""

    regions: list[RegionRow] = field(default_factory=list)
    devices: list[DeviceRow] = field(default_factory=list)
    points: list[PointRow] = field(default_factory=list)
    cameras: list[CameraSheetRow] = field(default_factory=list)
    #: region code, device MN, (MN, code, field), ("camera", enterprise, site, camera) -> where it was read
    places: dict[object, Place] = field(default_factory=dict)

    def extend(self, other: RegistrySheets) -> None:
        self.regions.extend(other.regions)
        self.devices.extend(other.devices)
        self.points.extend(other.points)
        self.cameras.extend(other.cameras)
        for key, place in other.places.items():
            self.places.setdefault(key, place)

    def finding(self, key: object, column: str | None, message: str, *, default: str = "the sheets") -> Finding:
        """A finding about the row read for ``key`` (a region code, an MN or (MN, code, field))."""
        place = self.places.get(key)
        return Finding(place[0], place[1], column, message) if place else Finding(default, None, column, message)


def read_registry_files(paths: list[Path], catalogue: Catalogue, *, names: dict[Path, str] | None = None
                        ) -> RegistrySheets:
    """Regions, devices and points from CSV or XLSX files (every sheet of a workbook).

    All files are checked before anything is returned, duplicates across files included, and
    every problem found is reported at once. ``names``: how to call a file in findings (an
    upload's own name rather than the temporary path it was saved under).
    """
    found = RegistrySheets()
    problems: list[Finding] = []
    for path in paths:
        found.extend(_read_file(path, (names or {}).get(path, str(path)), catalogue, problems))
    _check_duplicates(found, problems)
    if problems:
        raise RegistryFileError(problems)
    return found


#: a sheet's rows, each with the number Excel shows for it
Rows = list[tuple[int, list[str]]]


def _read_file(path: Path, name: str, catalogue: Catalogue, problems: list[Finding]) -> RegistrySheets:
    found = RegistrySheets()
    if not path.is_file():
        problems.append(Finding(name, None, None, "no such file" if not path.exists() else "not a file"))
        return found
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        sheets = list(_xlsx_sheets(path, name))
    elif suffix in (".csv", ".txt"):
        sheets = [(name, _csv_rows(path, name))]
    else:
        problems.append(Finding(name, None, None, "use a .csv or .xlsx file"))
        return found
    if not any(len(rows) > 1 for _, rows in sheets):
        problems.append(Finding(name, None, None, "holds no rows below a header"))
        return found
    for where, rows in sheets:
        if not rows:
            continue
        header = [_norm_header(h) for h in rows[0][1]]
        body = rows[1:]
        if "camera" in header and "mn" not in header:
            found.cameras.extend(_cameras(where, header, body, problems, found.places))
        elif set(POINT_REQUIRED) <= set(header) and "enterprise" not in header:
            found.points.extend(_points(where, header, body, problems, found.places))
        elif "mn" in header and "enterprise" in header:
            found.devices.extend(_devices(where, header, body, catalogue, problems, found.places))
        elif "region_code" in header and "mn" not in header:
            found.regions.extend(_regions(where, header, body, problems, found.places))
        else:
            problems.append(Finding(
                where, None, None,
                f"header is not a devices sheet (needs {', '.join(DEVICE_REQUIRED)}), "
                f"a points sheet (needs {', '.join(POINT_REQUIRED)}) "
                f"a regions sheet (needs {', '.join(REGION_COLUMNS[:2])}) "
                f"or a cameras sheet (needs {', '.join(CAMERA_REQUIRED)})"
            ))
    return found


def _norm_header(text: object) -> str:
    return str(text or "").strip().lstrip("\ufeff").lower()


def _csv_rows(path: Path, name: str) -> Rows:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise RegistryFileError([Finding(name, None, None, "is not a text file (an .xlsx renamed to .csv?)")])
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RegistryFileError([Finding(name, None, None, "not UTF-8 or GBK text")])
    # blank lines are skipped, but every row keeps the number Excel would show for it
    return [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
            if any(c.strip() for c in row)]


def _xlsx_sheets(path: Path, name: str) -> Iterator[tuple[str, Rows]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise RegistryFileError([Finding(name, None, None, f"cannot be read as a workbook ({exc})")]) from exc
    try:
        for sheet in book.worksheets:
            rows = [
                (number, ["" if v is None else str(v) for v in row])
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
            yield f"{name}[{sheet.title}]", [(n, r) for n, r in rows if any(c.strip() for c in r)]
    finally:
        book.close()


#: (column or None for the whole row, message) found in one row
Errors = list[tuple[str | None, str]]


def _records(
    where: str, header: list[str], body: Rows, required: tuple[str, ...],
    known: tuple[str, ...], problems: list[Finding],
) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row as a dict with its row number; checks the header first. A row with fewer cells
    than the header (a CSV line cut short, a comma lost) is reported as such, not as the empty
    columns it seems to leave: those are rarely the mistake."""
    unknown = [h for h in header if h and h not in known]
    if unknown:
        problems.append(Finding(where, 1, None, f"unknown column(s) {', '.join(unknown)} (known: {', '.join(known)})"))
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(Finding(where, 1, None, f"missing column(s) {', '.join(missing)}"))
        return
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    # Excel pads only a sheet's first rows with trailing commas: a row may lack the optional
    # columns at its end, never a required one
    needed = max(header.index(c) for c in required) + 1
    for number, row in body:
        cells = len(row)
        while cells and not row[cells - 1].strip():
            cells -= 1
        if len(row) < needed:
            problems.append(Finding(where, number, None, f"row has {len(row)} of {width} columns "
                                                         "(a comma missing, or the row cut short?)"))
            continue
        if cells > width:
            problems.append(Finding(where, number, None, f"row has {cells} cells but the header names {width} "
                                                         "columns (a comma too many in a name?)"))
            continue
        record = {h: (_unquoted(row[i].strip()) if i < len(row) else "") for i, h in enumerate(header) if h}
        yield number, record


def _report(where: str, number: int, errors: Errors, problems: list[Finding]) -> bool:
    """Add the row's errors to ``problems``; True when there were any."""
    problems.extend(Finding(where, number, column, message) for column, message in errors)
    return bool(errors)


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
    where: str, header: list[str], body: Rows, problems: list[Finding], places: dict[object, Place]
) -> Iterator[RegionRow]:
    for number, r in _records(where, header, body, REGION_COLUMNS[:2], REGION_COLUMNS, problems):
        errors: Errors = [(c, f"{c} is empty") for c in REGION_COLUMNS[:2] if not r.get(c)]
        for column in ("region_code", "parent_region_code"):
            code = r.get(column, "")
            problem = division_code_problem(code) if code else None
            if problem:
                errors.append((column, problem.replace("region_code", column, 1)))
        nesting = nesting_problem(r.get("region_code", ""), r.get("parent_region_code", ""))
        if nesting:
            errors.append(("parent_region_code", nesting))
        if _report(where, number, errors, problems):
            continue
        places.setdefault(r["region_code"], (where, number))
        yield RegionRow(r["region_code"], r["region_name"], r.get("parent_region_code", ""))


def _devices(
    where: str, header: list[str], body: Rows, catalogue: Catalogue, problems: list[Finding],
    places: dict[object, Place],
) -> Iterator[DeviceRow]:
    for number, r in _records(where, header, body, DEVICE_REQUIRED, DEVICE_COLUMNS, problems):
        errors: Errors = []
        for column in ("region_code", "region_name", "enterprise", "site", "mn"):
            if not r.get(column):
                errors.append((column, f"{column} is empty"))
        code = r.get("region_code", "")
        code_problem = division_code_problem(code) if code else None
        if code_problem:
            errors.append(("region_code", code_problem))
        nesting = nesting_problem(code, r.get("parent_region_code", ""))
        if nesting:
            errors.append(("parent_region_code", nesting))
        site_type = catalogue.site_type_id(r.get("site_type", ""))
        if site_type is None:
            errors.append(("site_type",
                           f"site_type {r.get('site_type')!r} is unknown (one of: {', '.join(catalogue.site_types)})"))
        # a site may have no position yet (it is then not on the map); the columns stay required
        lon = _float(r.get("longitude", ""), "longitude", errors, optional=True)
        lat = _float(r.get("latitude", ""), "latitude", errors, optional=True)
        if lon is not None and lat is not None:
            if abs(lat) > 90 and abs(lon) <= 90 and abs(lat) <= 180:
                errors.append(("latitude", f"longitude {lon} and latitude {lat} look swapped"))
            elif not (-180 <= lon <= 180 and -90 <= lat <= 90):
                errors.append(("longitude" if not -180 <= lon <= 180 else "latitude",
                               f"longitude {lon} / latitude {lat} out of range"))
        mn = r.get("mn", "")
        if mn and (len(mn) > 64 or set(mn) & BAD_ID_CHARS or not (mn.isascii() and mn.isprintable())):
            errors.append(("mn", f"mn {mn!r} is not a valid HJ 212 MN (at most 64 printable ASCII characters, "
                                 "no ; , & =)"))
        password = r.get("password", "")
        if len(password) > 64 or set(password) & BAD_ID_CHARS:
            errors.append(("password", "password may not hold ; , & = or exceed 64 characters"))
        protocol = r.get("protocol") or "hj212"
        if protocol not in PROTOCOLS:
            errors.append(("protocol", f"protocol {protocol!r} is not supported (one of: {', '.join(PROTOCOLS)})"))
        interval = r.get("interval_s") or "60"
        if not (interval.isascii() and interval.isdigit()) or int(interval) <= 0:
            errors.append(("interval_s", f"interval_s {interval!r} must be a whole number of seconds > 0"))
        leniency = [q.strip() for q in (r.get("leniency") or "").replace(",", "|").split("|") if q.strip()]
        bad = [q for q in leniency if q not in QUIRKS]
        if bad:
            errors.append(("leniency", f"leniency {'|'.join(bad)} unknown (known: {', '.join(sorted(QUIRKS))})"))
        status = r.get("site_status", "")
        if status and status not in SITE_STATUSES:
            errors.append(("site_status", f"site_status {status!r} is not one of {', '.join(SITE_STATUSES)}"))
        if _report(where, number, errors, problems):
            continue
        assert site_type is not None
        places.setdefault(mn, (where, number))
        yield DeviceRow(
            region_code=code, region_name=r["region_name"],
            parent_region_code=r.get("parent_region_code", ""), enterprise=r["enterprise"],
            site=r["site"], site_type=site_type, mn=mn, longitude=lon, latitude=lat,
            password=password, protocol=protocol, interval_s=int(interval),
            leniency="|".join(leniency), device_kind=r.get("device_kind", ""),
            site_status=status,
        )


def _points(
    where: str, header: list[str], body: Rows, problems: list[Finding], places: dict[object, Place]
) -> Iterator[PointRow]:
    for number, r in _records(where, header, body, POINT_REQUIRED, POINT_COLUMNS, problems):
        errors: Errors = [(c, f"{c} is empty") for c in POINT_REQUIRED if not r.get(c)]
        lower = _float(r.get("lower", ""), "lower", errors, optional=True)
        upper = _float(r.get("upper", ""), "upper", errors, optional=True)
        if lower is not None and upper is not None and lower > upper:
            errors.append(("lower", f"lower {lower} is above upper {upper}"))
        if _report(where, number, errors, problems):
            continue
        places.setdefault((r["mn"], r["code"], r["field"]), (where, number))
        yield PointRow(
            mn=r["mn"], code=r["code"], field=r["field"], name=r.get("name", ""),
            quantity=r.get("quantity", ""), unit=r.get("unit", ""), lower=lower, upper=upper,
            role=r.get("role", ""),
        )


@dataclass(frozen=True, slots=True)
class CameraSheetRow:
    """A camera of a site (named by its enterprise and name), as a cameras sheet lists it."""

    enterprise: str
    site: str
    camera: str
    live_url: str
    snapshot_url: str


def _cameras(where: str, header: list[str], body: Rows, problems: list[Finding], places: dict[object, Place]
             ) -> list[CameraSheetRow]:
    """The rows of a cameras sheet (their addresses are checked when applied, with the camera
    registry's own checks: forewarn.registry.camera_sheet)."""
    out: list[CameraSheetRow] = []
    for number, r in _records(where, header, body, CAMERA_REQUIRED, CAMERA_COLUMNS, problems):
        errors: Errors = [(c, f"{c} is empty") for c in CAMERA_REQUIRED if not r.get(c)]
        if not r.get("live_url") and not r.get("snapshot_url"):
            errors.append(("snapshot_url", "give the camera a live_url, a snapshot_url, or both"))
        key = ("camera", r.get("enterprise", ""), r.get("site", ""), r.get("camera", ""))
        if key in places:
            errors.append(("camera", f"camera {key[3]} of {key[1]}/{key[2]} appears twice"))
        if _report(where, number, errors, problems):
            continue
        places[key] = (where, number)
        out.append(CameraSheetRow(r["enterprise"], r["site"], r["camera"], r.get("live_url", ""),
                                  r.get("snapshot_url", "")))
    return out


def _float(text: str, name: str, errors: Errors, optional: bool = False) -> float | None:
    if not text:
        if not optional:
            errors.append((name, f"{name} is empty"))
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append((name, f"{name} {text!r} is not a number"))
        return None
    if not math.isfinite(value):
        errors.append((name, f"{name} {text!r} is not a finite number"))
        return None
    return value


def _check_duplicates(sheets: RegistrySheets, problems: list[Finding]) -> None:
    seen: dict[str, DeviceRow] = {}
    for d in sheets.devices:
        if d.mn in seen and seen[d.mn] != d:
            problems.append(sheets.finding(d.mn, "mn", f"mn {d.mn} appears twice with different rows"))
        seen[d.mn] = d
    keys: set[tuple[str, str, str]] = set()
    for p in sheets.points:
        key = (p.mn, p.code, p.field)
        if key in keys:
            problems.append(sheets.finding(key, "code", f"point {p.mn} {p.code}-{p.field} appears twice"))
        keys.add(key)


# ------------------------------------------------------------------------------ writing


def _device_cells(d: DeviceRow) -> list[object]:
    # the fields as they are (dataclasses.astuple deep-copies: a third of a 10,000-device export)
    values = {f.name: getattr(d, f.name) for f in fields(DeviceRow)}
    values["site_status"] = d.site_status
    return [values[c] if values[c] is not None else "" for c in DEVICE_COLUMNS]


def _point_cells(p: PointRow) -> list[object]:
    values = {f.name: getattr(p, f.name) for f in fields(PointRow)}
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
