"""CISA KEV catalog reader: the fields kept, and damaged catalogs refused with a place."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from meshward.errors import InputError
from meshward.formats.kev import read_kev
from meshward.limits import Limits

FIXTURE = Path(__file__).with_name("fixtures") / "kev" / "known_exploited_vulnerabilities.json"


def catalog(*vulns: Any, **top: Any) -> bytes:
    doc: dict[str, Any] = {
        "catalogVersion": "2025.01.15",
        "dateReleased": "2025-01-15T17:01:52Z",
        "vulnerabilities": list(vulns),
    }
    doc.update(top)
    return json.dumps(doc).encode()


def entry(**kw: Any) -> dict[str, Any]:
    return {"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10", **kw}


def test_reads_the_fixture() -> None:
    kev = read_kev(FIXTURE.read_bytes(), str(FIXTURE))
    assert kev.catalog_version == "2025.01.15"
    assert kev.released == datetime(2025, 1, 15, 17, 1, 52, 481700, tzinfo=UTC)
    assert [e.cve for e in kev.entries] == ["CVE-2021-44228", "CVE-2022-22965", "CVE-2023-44487"]
    log4shell = kev.entries[0]
    assert (log4shell.vendor, log4shell.product) == ("Apache", "Log4j2")
    assert log4shell.date_added == date(2021, 12, 10)
    assert log4shell.due_date == date(2021, 12, 24)
    assert log4shell.ransomware is True
    assert kev.entries[1].ransomware is False


def test_minimal_entry_and_normalised_id() -> None:
    kev = read_kev(catalog(entry(cveID=" cve-2021-44228 ")), "k.json")
    (e,) = kev.entries
    assert e.cve == "CVE-2021-44228"
    assert e.due_date is None and e.vendor is None and e.ransomware is False


@pytest.mark.parametrize(
    ("data", "place", "words"),
    [
        (b"[]", "/", "JSON object"),
        (catalog(catalogVersion=None), "/catalogVersion", "missing"),
        (catalog(vulnerabilities={}), "/vulnerabilities", "not an array"),
        (catalog("x"), "/vulnerabilities/0", "JSON object"),
        (catalog(entry(cveID="GHSA-jfh8-c2jp-5v3q")), "/vulnerabilities/0/cveID", "not a CVE"),
        (catalog(entry(cveID=7)), "/vulnerabilities/0/cveID", "not a string"),
        (catalog(entry(), entry()), "/vulnerabilities/1/cveID", "listed twice"),
        (catalog(entry(dateAdded=None)), "/vulnerabilities/0/dateAdded", "missing"),
        (catalog(entry(dueDate="soon")), "/vulnerabilities/0/dueDate", "not a date"),
        (catalog(entry(product=["a"])), "/vulnerabilities/0/product", "not a string"),
        (catalog(dateReleased="yesterday"), "/dateReleased", "not an ISO 8601"),
    ],
)
def test_malformed_catalogs_are_refused_with_a_place(data: bytes, place: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_kev(data, "k.json")
    assert info.value.place == place
    assert words in info.value.message


def test_not_json_oversized_and_too_deep_are_refused() -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        read_kev(b'{"catalogVersion": ', "k.json")
    with pytest.raises(InputError, match="larger than the limit"):
        read_kev(FIXTURE.read_bytes(), "k.json", Limits(max_bytes=100))
    deep = b'{"catalogVersion": "1", "vulnerabilities": [], "x": ' + b"[" * 200 + b"]" * 200 + b"}"
    with pytest.raises(InputError, match="nesting deeper"):
        read_kev(deep, "k.json")
