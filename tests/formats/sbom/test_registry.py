"""The SBOM registry: detection from content (never the file name), encodings, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.sbom import registry
from meshward.formats.sbom.cyclonedx_json import CycloneDxJsonReader
from meshward.formats.sbom.cyclonedx_xml import CycloneDxXmlReader
from meshward.formats.sbom.registry import READERS, detect, read_sbom
from meshward.limits import Limits

from .cdx_corpus import NOT_CYCLONEDX, corpus_files, relative

FIXTURES = Path(__file__).parent / "fixtures"
SHOP_JSON = FIXTURES / "cyclonedx" / "shop-1.6.cdx.json"
SHOP_XML = FIXTURES / "cyclonedx" / "shop-1.6.cdx.xml"


def test_readers_are_registered() -> None:
    kinds = {(reader.format, reader.encoding) for reader in READERS}
    assert {("CycloneDX", "json"), ("CycloneDX", "xml")} <= kinds
    assert len(kinds) == len(READERS)


def test_spdx_readers_are_registered_when_present() -> None:
    kinds = {(reader.format, reader.encoding) for reader in READERS}
    for module, kind in [
        ("meshward.formats.sbom.spdx_json", ("SPDX", "json")),
        ("meshward.formats.sbom.spdx_tagvalue", ("SPDX", "tag-value")),
        ("meshward.formats.sbom.spdx3", ("SPDX", "json-ld")),
    ]:
        try:
            __import__(module)
        except ImportError:
            continue
        assert kind in kinds


def test_detects_by_content_not_by_name() -> None:
    assert isinstance(detect(SHOP_JSON.read_bytes()), CycloneDxJsonReader)
    assert isinstance(detect(SHOP_XML.read_bytes()), CycloneDxXmlReader)
    document = read_sbom(SHOP_XML.read_bytes(), "misleading-name.json")
    assert (document.format, document.encoding) == ("CycloneDX", "xml")


@pytest.mark.parametrize(
    "path", sorted((FIXTURES / "spdx").glob("*")) if (FIXTURES / "spdx").is_dir() else []
)
def test_detects_spdx_fixtures(path: Path) -> None:
    document = read_sbom(path.read_bytes(), path.name)
    assert document.format == "SPDX"


def test_encodings() -> None:
    text = SHOP_JSON.read_text()
    expected = read_sbom(text.encode(), "plain").packages
    for data in (
        b"\xef\xbb\xbf" + text.encode(),
        text.encode("utf-16"),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
    ):
        assert read_sbom(data, "encoded.json").packages == expected
    xml = SHOP_XML.read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert read_sbom(xml.encode("utf-16"), "utf16.xml").packages == expected
    assert read_sbom(b"\xef\xbb\xbf" + SHOP_XML.read_bytes(), "bom.xml").packages == expected


def test_json_whose_telling_keys_come_late_is_still_detected() -> None:
    document = json.loads(SHOP_JSON.read_text())
    late = {"components": document["components"], "padding": "x" * 70_000}
    late.update({k: v for k, v in document.items() if k != "components"})
    data = json.dumps(late).encode()
    assert b'"bomFormat"' not in data[: registry.SNIFF_BYTES]
    assert isinstance(detect(data), CycloneDxJsonReader)
    assert len(read_sbom(data, "late.json").packages) == 5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        b'{"name": "not an sbom"}',
        b"[1, 2, 3]",
        b"<html><body/></html>",
        b"\x00\x01\x02",
        b'<bom xmlns="http://example.com/other"/>',
    ],
)
def test_unknown_formats_list_what_is_supported(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        read_sbom(data, "mystery.bin")
    assert caught.value.source == "mystery.bin"
    assert "CycloneDX (json)" in caught.value.message
    assert "CycloneDX (xml)" in caught.value.message


def test_malformed_json_that_sniffs_as_nothing_gives_a_json_error() -> None:
    with pytest.raises(InputError) as caught:
        read_sbom(b'{"components": [', "cut.json")
    assert caught.value.place == "line 1 column 17"


def test_oversized_documents_are_refused_before_detection() -> None:
    with pytest.raises(InputError) as caught:
        read_sbom(b"x" * 2000, "huge.bin", Limits(max_bytes=1000))
    assert "limit" in caught.value.message


def test_a_broken_reader_cannot_leak_other_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(CycloneDxJsonReader):
        def sniff(self, head: bytes) -> bool:
            raise RuntimeError("sniff broke")

    class Boom2(CycloneDxJsonReader):
        def read(self, data: bytes, source: str, limits: Limits = Limits()) -> object:  # type: ignore[override]
            raise RuntimeError("read broke")

    monkeypatch.setattr(registry, "READERS", [Boom(), Boom2()])
    with pytest.raises(InputError) as caught:
        read_sbom(SHOP_JSON.read_bytes(), "x.json")
    assert "read broke" in caught.value.message


@pytest.mark.shared
def test_every_cyclonedx_corpus_file_is_detected_as_cyclonedx(shared_data: Path) -> None:
    for suffix, encoding in ((".json", "json"), (".xml", "xml")):
        for path in corpus_files(shared_data, suffix):
            name = relative(shared_data, path)
            if name in NOT_CYCLONEDX:
                with pytest.raises(InputError):
                    read_sbom(path.read_bytes(), name)
                continue
            document = read_sbom(path.read_bytes(), name)
            assert (document.format, document.encoding) == ("CycloneDX", encoding), name
