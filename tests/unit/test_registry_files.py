"""Registry sheets: every mistake is a finding with its file, the row Excel shows, and its column."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.catalogue import Catalogue
from forewarn.registry.files import Finding, RegistryFileError, read_registry_files

HEADER = "region_code,region_name,enterprise,site,site_type,longitude,latitude,mn,password\n"
GOOD = "451202,金城江区,某公司,一号站,lpg_station,108.0,24.6,451202A000000000000001,\n"


def findings(tmp_path: Path, text: str, name: str = "devices.csv") -> list[Finding]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryFileError) as caught:
        read_registry_files([path], Catalogue(), names={path: name})
    return caught.value.findings


def test_a_short_row_is_reported_as_short_not_as_the_empty_columns_it_seems_to_leave(tmp_path: Path) -> None:
    found = findings(tmp_path, HEADER + GOOD + "451202,金城江区,某公司,二号站,lpg_station,108.0\n")
    assert found == [Finding("devices.csv", 3, None, "row has 6 of 9 columns (a comma missing, or the row cut short?)")]
    assert str(found[0]) == "devices.csv row 3: row has 6 of 9 columns (a comma missing, or the row cut short?)"


def test_a_row_may_lack_only_optional_columns_at_its_end_as_excel_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(HEADER.strip() + ",protocol,interval_s\n" + GOOD, encoding="utf-8")
    sheets = read_registry_files([path], Catalogue())
    assert [d.interval_s for d in sheets.devices] == [60]


def test_each_mistake_names_its_column_and_rows_keep_their_numbers_past_blank_lines(tmp_path: Path) -> None:
    found = findings(tmp_path, HEADER + GOOD + "\n\n"
                     + "451202,金城江区,某公司,二号站,spaceport,abc,24.6,451202A000000000000002,\n")
    assert [(f.row, f.column) for f in found] == [(5, "site_type"), (5, "longitude")]


def test_a_name_with_a_comma_too_many_is_refused_rather_than_shifted(tmp_path: Path) -> None:
    found = findings(tmp_path, HEADER + "451202,金城江区,某公司,一号站,lpg_station,108.0,24.6,451202A1,pw,extra\n")
    assert [(f.row, f.column) for f in found] == [(2, None)] and "10 cells" in found[0].message


def test_a_site_status_outside_the_lifecycle_is_a_finding(tmp_path: Path) -> None:
    found = findings(tmp_path, HEADER.strip() + ",site_status\n" + GOOD.strip() + ",paused\n")
    assert [(f.row, f.column) for f in found] == [(2, "site_status")] and "maintenance" in found[0].message
