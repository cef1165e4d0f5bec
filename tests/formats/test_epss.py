"""FIRST EPSS CSV reader: model and day from the comment line, damaged files refused by line."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.epss import read_epss
from meshward.limits import Limits

FIXTURE = Path(__file__).with_name("fixtures") / "epss" / "epss_scores-2025-01-15.csv"
HEAD = b"#model_version:v2023.03.01,score_date:2025-01-15T00:00:00+0000\ncve,epss,percentile\n"


def test_reads_the_fixture() -> None:
    epss = read_epss(FIXTURE.read_bytes(), str(FIXTURE))
    assert epss.model_version == "v2023.03.01"
    assert epss.score_date == date(2025, 1, 15)
    assert len(epss.scores) == 5
    log4shell = epss.scores[1]
    assert (log4shell.cve, log4shell.score, log4shell.percentile) == (
        "CVE-2021-44228",
        0.9756,
        0.9999,
    )


def test_gzip_crlf_and_no_comment_line() -> None:
    packed = gzip.compress(FIXTURE.read_bytes())
    assert read_epss(packed, "e.csv.gz") == read_epss(FIXTURE.read_bytes(), "e.csv")
    plain = b"cve,epss,percentile\r\ncve-2024-0001,0.5,0.9\r\n\r\n"
    epss = read_epss(plain, "old.csv")
    assert epss.score_date is None and epss.model_version is None
    assert [(s.cve, s.score) for s in epss.scores] == [("CVE-2024-0001", 0.5)]


@pytest.mark.parametrize(
    ("body", "place", "words"),
    [
        (b"CVE-2024-0001,0.5\n", "line 3", "expected 3 fields"),
        (b"CVE-2024-0001,0.5,0.9\nGHSA-1,0.1,0.1\n", "line 4", "not a CVE id"),
        (b"CVE-2024-0001,high,0.9\n", "line 3", "epss is not a number"),
        (b"CVE-2024-0001,1.5,0.9\n", "line 3", "between 0 and 1"),
        (b"CVE-2024-0001,nan,0.9\n", "line 3", "between 0 and 1"),
        (b"CVE-2024-0001,0.5,-0.1\n", "line 3", "percentile must be between"),
        (b"CVE-2024-0001,0.5,0.9\nCVE-2024-0001,0.4,0.8\n", "line 4", "listed twice"),
        (b"CVE-2024-0001,0.5," + b"9" * 300 + b"\n", "line 3", "longer than"),
    ],
)
def test_malformed_rows_are_refused_with_their_line(body: bytes, place: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_epss(HEAD + body, "e.csv")
    assert info.value.place == place
    assert words in info.value.message


def test_bad_header_date_encoding_size_and_gzip_bomb() -> None:
    with pytest.raises(InputError, match="expected the header"):
        read_epss(b"id,score\nCVE-2024-0001,0.5\n", "e.csv")
    with pytest.raises(InputError, match="score_date is not a date"):
        read_epss(b"#model_version:v1,score_date:tomorrow\ncve,epss,percentile\n", "e.csv")
    with pytest.raises(InputError, match="not valid UTF-8"):
        read_epss(HEAD + b"CVE-2024-0001,0.5,0.9\xff\n", "e.csv")
    with pytest.raises(InputError, match="larger than the limit"):
        read_epss(FIXTURE.read_bytes(), "e.csv", Limits(max_bytes=50))
    bomb = gzip.compress(HEAD + b"\n" * 5_000_000)
    assert len(bomb) < 10_000
    with pytest.raises(InputError, match="decompresses to more than"):
        read_epss(bomb, "e.csv.gz", Limits(max_bytes=1_000_000))
    with pytest.raises(InputError, match="not a readable gzip"):
        read_epss(b"\x1f\x8b\x08\x00garbage", "e.csv.gz")
