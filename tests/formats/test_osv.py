"""OSV adapter: whole records kept, hostile input refused with a place, real feeds parse."""

from __future__ import annotations

import json
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from meshward.errors import InputError
from meshward.formats.osv import (
    Advisory,
    SeverityLabel,
    iter_advisories,
    label_from_text,
    parse_advisory,
    rate_severity,
    read_advisory_bytes,
    severity_label,
    severity_score,
)
from meshward.limits import Limits

FIXTURES = Path(__file__).parent / "fixtures" / "osv"

MINIMAL: dict[str, Any] = {"id": "x_TEST-1", "modified": "2024-01-01T00:00:00Z"}


def _fixture(name: str) -> Advisory:
    path = FIXTURES / name
    return read_advisory_bytes(path.read_bytes(), str(path))


def _record(**fields: Any) -> dict[str, Any]:
    return {**MINIMAL, **fields}


def _raises(obj: Any) -> InputError:
    with pytest.raises(InputError) as info:
        parse_advisory(obj, "test.json")
    return info.value


def _zip(path: Path, members: dict[str, bytes], *, stored: bool = False) -> Path:
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# --------------------------------------------------------------------------- whole records


def test_ghsa_record_keeps_every_field() -> None:
    adv = _fixture("GHSA-r9p9-mrjm-926w.json")
    assert adv.id == "GHSA-r9p9-mrjm-926w"
    assert adv.schema_version == "1.2.0"
    assert adv.aliases == ("CVE-2020-28498",)
    assert adv.all_ids == ("GHSA-r9p9-mrjm-926w", "CVE-2020-28498")
    assert adv.modified_at == datetime(2021, 3, 8, 16, 2, 43, tzinfo=UTC)
    assert adv.published == "2021-03-08T16:06:50Z"
    assert not adv.is_withdrawn and adv.withdrawn_at is None
    assert adv.summary == "Use of a Broken or Risky Cryptographic Algorithm"
    assert adv.severity[0].type == "CVSS_V3"
    assert adv.severity[0].base_score == 6.8
    (affected,) = adv.affected
    assert affected.package is not None
    assert (affected.package.ecosystem, affected.package.name) == ("npm", "elliptic")
    assert affected.package.purl == "pkg:npm/elliptic"
    (osv_range,) = affected.ranges
    assert osv_range.type == "ECOSYSTEM"
    assert [(e.kind, e.version) for e in osv_range.events] == [
        ("introduced", "0"),
        ("fixed", "6.5.4"),
    ]
    assert [r.type for r in adv.references] == ["ADVISORY", "WEB"]
    assert adv.database_specific == {
        "cwe_ids": ["CWE-327"],
        "severity": "MODERATE",
        "github_reviewed": True,
    }
    assert adv.raw == json.loads((FIXTURES / "GHSA-r9p9-mrjm-926w.json").read_bytes())
    assert adv.source == str(FIXTURES / "GHSA-r9p9-mrjm-926w.json")


def test_rustsec_record_keeps_ecosystem_specific() -> None:
    adv = _fixture("RUSTSEC-2019-0033.json")
    (affected,) = adv.affected
    assert affected.ranges[0].type == "SEMVER"
    assert affected.ecosystem_specific is not None
    assert affected.ecosystem_specific["functions"] == ["http::header::HeaderMap::reserve"]
    assert adv.severity == ()


def test_git_and_ecosystem_ranges_versions_and_credits() -> None:
    adv = _fixture("nested/PYSEC-2021-XXXX.json")
    (affected,) = adv.affected
    git, eco = affected.ranges
    assert (git.type, git.repo) == ("GIT", "https://github.com/pikepdf/pikepdf")
    assert git.events[1].version == "3f38f73218e5e782fe411ccbb3b44a793c0b343a"
    assert (eco.type, eco.repo, eco.database_specific) == ("ECOSYSTEM", None, {"source": "fixture"})
    assert affected.versions[:2] == ("2.8.0", "2.8.0.post1") and len(affected.versions) == 6
    assert [(c.name, c.contact, c.type) for c in adv.credits] == [
        ("Jane Finder", ("mailto:jane@example.org",), "FINDER"),
        ("A Tool", (), None),
    ]
    assert adv.modified_at is not None and adv.modified_at.microsecond == 123456


def test_commit_only_entry_has_no_package() -> None:
    adv = _fixture("nested/OSV-2020-584.json")
    (affected,) = adv.affected
    assert affected.package is None
    assert affected.ranges[0].type == "GIT"


def test_withdrawn_record_is_recognised() -> None:
    adv = _fixture("x_WITHDRAWN-0001.json")
    assert adv.is_withdrawn
    assert adv.withdrawn_at == datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
    assert adv.aliases == ()  # JSON null is "absent"
    assert adv.references == ()
    assert adv.upstream == ("CVE-2024-0001",)
    assert adv.related == ("x_RELATED-0002",)
    alma, ubuntu = adv.affected
    assert alma.package is not None and ubuntu.package is not None
    assert (alma.package.base_ecosystem, alma.package.ecosystem_suffix) == ("AlmaLinux", "8")
    assert ubuntu.package.base_ecosystem == "Ubuntu"
    assert ubuntu.package.ecosystem_suffix == "Pro:20.04:LTS"
    assert alma.ranges[0].events[1].kind == "last_affected"
    assert ubuntu.ranges[0].events[1] == ubuntu.ranges[0].events[1].__class__("limit", "*")
    assert alma.severity[0].type == "CVSS_V4"


def test_minimal_record_and_defaults() -> None:
    adv = parse_advisory(dict(MINIMAL), "mem")
    assert adv.id == "x_TEST-1" and adv.affected == () and adv.schema_version is None
    assert adv.published is None and adv.summary is None and adv.credits == ()


def test_unknown_fields_and_types_are_kept() -> None:
    obj = _record(
        x_extra={"a": 1},
        affected=[
            {
                "package": {"ecosystem": "Hex", "name": "plug"},
                "ranges": [{"type": "FUTURE", "events": [{"introduced": "1"}]}],
            }
        ],
    )
    adv = parse_advisory(obj, "mem")
    assert adv.affected[0].ranges[0].type == "FUTURE"
    assert adv.raw["x_extra"] == {"a": 1}


def test_package_suffixes() -> None:
    obj = _record(
        affected=[{"package": {"ecosystem": "Maven:https://maven.google.com", "name": "g:a"}}]
    )
    package = parse_advisory(obj, "mem").affected[0].package
    assert package is not None
    assert package.base_ecosystem == "Maven"
    assert package.ecosystem_suffix == "https://maven.google.com"


# --------------------------------------------------------------------------- reading paths


def test_directory_tree_is_read_sorted() -> None:
    ids = [a.id for a in iter_advisories(FIXTURES)]
    assert ids == [
        "GHSA-r9p9-mrjm-926w",
        "RUSTSEC-2019-0033",
        "x_WITHDRAWN-0001",
        "OSV-2020-584",
        "PYSEC-2021-XXXX",
    ]


def test_single_file() -> None:
    (adv,) = iter_advisories(FIXTURES / "RUSTSEC-2019-0033.json")
    assert adv.id == "RUSTSEC-2019-0033"


def test_zip_archive_streams_json_members_only(tmp_path: Path) -> None:
    members = {p.relative_to(FIXTURES).as_posix(): p.read_bytes() for p in FIXTURES.rglob("*.json")}
    members["README.txt"] = b"not json at all \x00\xff"
    members["bin/blob.bin"] = b"\x00" * 1000
    archive = _zip(tmp_path / "all.zip", members)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(zipfile.ZipInfo("folder.json/"), b"")  # a directory entry
    advisories = list(iter_advisories(archive))
    assert sorted(a.id for a in advisories) == sorted(a.id for a in iter_advisories(FIXTURES))
    ghsa = next(a for a in advisories if a.id.startswith("GHSA"))
    assert ghsa.source == f"{archive}#GHSA-r9p9-mrjm-926w.json"
    assert not list(tmp_path.glob("*.json"))  # nothing unpacked to disk


def test_missing_path() -> None:
    with pytest.raises(InputError, match="no such file"):
        list(iter_advisories(Path("/nonexistent/osv")))


# --------------------------------------------------------------------------- malformed records


@pytest.mark.parametrize(
    ("obj", "place", "message"),
    [
        ({"modified": "2024-01-01T00:00:00Z"}, "/id", "id is required"),
        ({"id": "", "modified": "x"}, "/id", "id is required"),
        ({"id": "A-1"}, "/modified", "modified is required"),
        ({"id": 7, "modified": "x"}, "/id", "must be a string"),
        (_record(aliases="CVE-1"), "/aliases", "must be an array"),
        (_record(aliases=["CVE-1", 2]), "/aliases/1", "must be strings"),
        (_record(summary=["x"]), "/summary", "must be a string"),
        (_record(severity=[{"type": "CVSS_V3"}]), "/severity/0/score", "required"),
        (_record(affected={"package": {}}), "/affected", "must be an array"),
        (_record(affected=["npm"]), "/affected/0", "must be objects"),
        (
            _record(affected=[{"package": {"ecosystem": "npm"}}]),
            "/affected/0/package/name",
            "name is required",
        ),
        (
            _record(affected=[{"package": "npm/left-pad"}]),
            "/affected/0/package",
            "must be an object",
        ),
        (
            _record(affected=[{"ranges": [{"type": "SEMVER"}]}]),
            "/affected/0/ranges/0/events",
            "events is required",
        ),
        (
            _record(affected=[{"ranges": [{"events": [{"introduced": "0"}]}]}]),
            "/affected/0/ranges/0/type",
            "type is required",
        ),
        (
            _record(
                affected=[
                    {"ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1"}]}]}
                ]
            ),
            "/affected/0/ranges/0/events/0",
            "exactly one",
        ),
        (
            _record(
                affected=[
                    {"ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": 1}]}]}
                ]
            ),
            "/affected/0/ranges/0/events/1/fixed",
            "must be a string",
        ),
        (
            _record(affected=[{"ranges": [{"type": "SEMVER", "events": [{"bogus": "1"}]}]}]),
            "/affected/0/ranges/0/events/0",
            "exactly one",
        ),
        (
            _record(affected=[{"ecosystem_specific": ["x"]}]),
            "/affected/0/ecosystem_specific",
            "must be an object",
        ),
        (_record(affected=[{"versions": [1.0]}]), "/affected/0/versions/0", "must be strings"),
        (_record(credits=[{"type": "FINDER"}]), "/credits/0/name", "required"),
        (_record(references=[{"type": "WEB"}]), "/references/0/url", "required"),
        (_record(database_specific="x"), "/database_specific", "must be an object"),
        ([MINIMAL], "/", "must be a JSON object"),
        ("GHSA-1", "/", "must be a JSON object"),
    ],
)
def test_malformed_record_names_the_place(obj: Any, place: str, message: str) -> None:
    error = _raises(obj)
    assert error.source == "test.json"
    assert error.place == place
    assert message in error.message


def test_malformed_member_in_zip_names_member_and_pointer(tmp_path: Path) -> None:
    bad = json.dumps({"id": "A-1", "modified": "x", "aliases": "CVE-1"}).encode()
    archive = _zip(
        tmp_path / "all.zip", {"good/x.json": json.dumps(MINIMAL).encode(), "bad/A-1.json": bad}
    )
    with pytest.raises(InputError) as info:
        list(iter_advisories(archive))
    assert info.value.source == str(archive)
    assert info.value.place == "bad/A-1.json#/aliases"


def test_not_json_member(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "all.zip", {"GHSA-x.json": b'{"id": "GHSA-x", oops'})
    with pytest.raises(InputError) as info:
        list(iter_advisories(archive))
    assert info.value.place is not None and info.value.place.startswith("GHSA-x.json#line")
    assert "not valid JSON" in info.value.message


def test_not_json_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError) as info:
        list(iter_advisories(path))
    assert info.value.source == str(path)


def test_deep_nesting_is_refused_with_pointer(tmp_path: Path) -> None:
    deep: Any = "bottom"
    for _ in range(200):
        deep = {"d": deep}
    data = json.dumps(_record(database_specific=deep)).encode()
    with pytest.raises(InputError) as info:
        read_advisory_bytes(data, "deep.json")
    assert "nesting" in info.value.message
    assert info.value.place is not None and info.value.place.startswith("/database_specific/d")
    archive = _zip(tmp_path / "deep.zip", {"deep.json": data})
    with pytest.raises(InputError) as zinfo:
        list(iter_advisories(archive))
    assert zinfo.value.place is not None and zinfo.value.place.startswith("deep.json#/database")


def test_huge_number_is_refused() -> None:
    data = b'{"id": "A-1", "modified": "x", "database_specific": {"n": 1' + b"0" * 400 + b"}}"
    with pytest.raises(InputError) as info:
        read_advisory_bytes(data, "num.json")
    assert "number" in info.value.message


def test_zip_bomb_member_is_refused_by_ratio(tmp_path: Path) -> None:
    padding = b" " * (8 * 1024 * 1024)
    bomb = b'{"id": "A-1", "modified": "x", "details": "' + padding + b'"}'
    archive = _zip(tmp_path / "bomb.zip", {"bomb.json": bomb})
    assert archive.stat().st_size < 100_000
    with pytest.raises(InputError) as info:
        list(iter_advisories(archive))
    assert info.value.place == "bomb.json"
    assert "zip bomb" in info.value.message


def test_zip_member_over_size_limit(tmp_path: Path) -> None:
    record = json.dumps(_record(details="x" * 5000)).encode()
    archive = _zip(tmp_path / "big.zip", {"big.json": record}, stored=True)
    with pytest.raises(InputError) as info:
        list(iter_advisories(archive, Limits(max_bytes=4096)))
    assert info.value.place == "big.json"
    assert "limit" in info.value.message


def test_zip_member_lying_about_its_size(tmp_path: Path) -> None:
    record = json.dumps(_record(details="y" * 50_000)).encode()
    archive = _zip(tmp_path / "liar.zip", {"liar.json": record})
    raw = bytearray(archive.read_bytes())
    # Shrink the declared uncompressed size in the central directory (offset 24 in the entry).
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    with pytest.raises(InputError) as info:
        list(iter_advisories(archive))
    assert info.value.place is not None and info.value.place.startswith("liar.json")


def test_plain_file_over_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(json.dumps(_record(details="x" * 5000)).encode())
    with pytest.raises(InputError, match="over the limit"):
        list(iter_advisories(path, Limits(max_bytes=1024)))


def test_corrupt_zip(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "c.zip", {"a.json": json.dumps(MINIMAL).encode() * 50})
    raw = archive.read_bytes()
    damaged = raw[:40] + bytes(b ^ 0x5A for b in raw[40:80]) + raw[80:]
    archive.write_bytes(damaged)
    with pytest.raises(InputError) as info:
        list(iter_advisories(archive))
    assert info.value.source == str(archive)


def test_on_error_collects_and_goes_on(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "mixed.zip",
        {
            "1.json": json.dumps(_record(id="A-1")).encode(),
            "2.json": b"[",
            "3.json": json.dumps({"id": "A-3"}).encode(),
            "4.json": json.dumps(_record(id="A-4")).encode(),
        },
    )
    errors: list[InputError] = []
    ids = [a.id for a in iter_advisories(archive, on_error=errors.append)]
    assert ids == ["A-1", "A-4"]
    assert [e.place.split("#")[0] for e in errors if e.place] == ["2.json", "3.json"]

    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "ok.json").write_text(json.dumps(MINIMAL))
    (folder / "bad.json").write_text("{")
    errors.clear()
    assert [a.id for a in iter_advisories(folder, on_error=errors.append)] == ["x_TEST-1"]
    assert [e.source for e in errors] == [str(folder / "bad.json")]


# --------------------------------------------------------------------------- severity


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", 5.9),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
        ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", 5.1),
    ],
)
def test_severity_score(vector: str, score: float) -> None:
    assert severity_score(vector) == score


@pytest.mark.parametrize(
    "vector", ["", "high", "CVSS:3.1/AV:N", "CVSS:9.0/AV:N", "AV:X/AC:L", "CVSS:3.1/AV:Q/AC:L/PR:N"]
)
def test_severity_score_invalid(vector: str) -> None:
    assert severity_score(vector) is None


def test_severity_label_boundaries() -> None:
    cases = {
        0.0: "none",
        0.1: "low",
        3.9: "low",
        4.0: "medium",
        6.9: "medium",
        7.0: "high",
        8.9: "high",
        9.0: "critical",
        10.0: "critical",
    }
    assert {s: severity_label(s) for s in cases} == cases
    assert severity_label(None) is None
    assert label_from_text("MODERATE") is SeverityLabel.MEDIUM
    assert label_from_text("Important") is SeverityLabel.HIGH
    assert label_from_text("untriaged") is None and label_from_text(3) is None


def test_rate_severity_fallbacks() -> None:
    ghsa = _fixture("GHSA-r9p9-mrjm-926w.json")
    rating = rate_severity(ghsa)
    assert (rating.score, rating.label, rating.source) == (6.8, "medium", "CVSS_V3 vector")

    no_vector = parse_advisory({**ghsa.raw, "severity": []}, "mem")
    rating = rate_severity(no_vector)
    assert (rating.score, rating.label) == (None, SeverityLabel.MEDIUM)
    assert rating.source == "database_specific.severity"

    rust = _fixture("RUSTSEC-2019-0033.json")
    assert rate_severity(rust).label is None
    rating = rate_severity(rust, rust.affected[0])
    assert (rating.label, rating.source) == ("high", "affected.ecosystem_specific.severity")

    withdrawn = _fixture("x_WITHDRAWN-0001.json")
    assert rate_severity(withdrawn, withdrawn.affected[0]).score == 5.1
    assert rate_severity(withdrawn).source == "none"

    both = parse_advisory(
        _record(
            severity=[
                {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"},
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"},
                {"type": "CVSS_V3", "score": "not a vector"},
                {"type": "Ubuntu", "score": "high"},
            ]
        ),
        "mem",
    )
    assert rate_severity(both).score == 5.9  # the newest CVSS version wins, not the biggest
    ubuntu = parse_advisory(_record(severity=[{"type": "Ubuntu", "score": "negligible"}]), "m")
    assert (rate_severity(ubuntu).label, rate_severity(ubuntu).source) == ("low", "Ubuntu priority")


# --------------------------------------------------------------------------- real feeds


def test_every_shared_osv_record_parses(shared_data: Path) -> None:
    root = shared_data / "osv"
    files = sorted(root.rglob("*.json"))
    assert len(files) > 15_000
    started = time.perf_counter()
    advisories = list(iter_advisories(root))
    elapsed = time.perf_counter() - started
    assert len(advisories) == len(files)
    assert elapsed < 30, f"parsing {len(files)} records took {elapsed:.1f} s"

    withdrawn = [a for a in advisories if a.is_withdrawn]
    assert len(withdrawn) == sum(1 for a in advisories if "withdrawn" in a.raw) > 0
    assert all(a.withdrawn_at is not None for a in withdrawn)
    assert all(a.modified_at is not None for a in advisories)

    ecosystems = {af.package.base_ecosystem for a in advisories for af in a.affected if af.package}
    assert {"AlmaLinux", "Go", "PyPI", "crates.io", "Julia", "Hackage", "Maven"} <= ecosystems
    assert any(af.package is None for a in advisories for af in a.affected)  # PSF GIT-only

    vectors = {
        s.score
        for a in advisories
        for s in (*a.severity, *(s for af in a.affected for s in af.severity))
        if s.type.startswith("CVSS_")
    }
    unscored = sorted(v for v in vectors if severity_score(v) is None)
    assert len(vectors) > 300
    assert unscored == []


def test_shared_records_round_trip_through_a_zip(shared_data: Path, tmp_path: Path) -> None:
    files = sorted((shared_data / "osv" / "PyPI").glob("*.json"))[:300]
    archive = _zip(tmp_path / "all.zip", {p.name: p.read_bytes() for p in files})
    from_zip = list(iter_advisories(archive))
    from_files = [read_advisory_bytes(p.read_bytes(), str(p)) for p in files]
    assert from_zip == from_files
    assert [a.raw for a in from_zip] == [a.raw for a in from_files]
