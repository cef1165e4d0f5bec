from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.requirements import RequirementsReader

from .conftest import ReadManifest

READER = RequirementsReader()


def test_matches_requirement_file_names() -> None:
    for name in ("requirements.txt", "requirements-dev.txt", "dev-requirements.txt"):
        assert READER.matches(Path(name))
    assert READER.matches(Path("requirements/base.txt"))
    assert not READER.matches(Path("requirements.in"))
    assert not READER.matches(Path("notes.txt"))


def test_pins_extras_markers_hashes_includes_constraints(
    fixtures: Path, read_manifest: ReadManifest
) -> None:
    result = read_manifest(READER, fixtures / "requirements" / "requirements.txt")
    packages = {p.name: p for p in result.packages}
    assert packages["Django"].purl == "pkg:pypi/django@4.2.1"
    assert packages["requests"].hashes == {
        "SHA-256": "58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f"
    }
    assert packages["urllib3"].version == "2.0.7"  # from -r base.txt
    assert packages["flask"].version == "2.3.3"  # pinned by -c constraints.txt
    assert "jinja2" not in packages  # a constraint alone installs nothing
    # Unpinned: reported without version, never dropped.
    assert packages["numpy"].version is None
    assert packages["numpy"].purl == "pkg:pypi/numpy"
    assert packages["attrs"].purl == "pkg:pypi/attrs@23.1.0"  # wheel URL
    assert packages["private-lib"].version is None  # editable VCS checkout
    assert set(result.direct_refs or []) == {p.ref for p in result.packages}
    assert result.dependencies == []


def test_pip_compile_annotations_give_direct_and_edges(
    fixtures: Path, read_manifest: ReadManifest
) -> None:
    result = read_manifest(READER, fixtures / "requirements" / "requirements-compiled.txt")
    assert set(result.direct_refs or []) == {
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/python-dateutil@2.8.2",
    }
    assert ("pkg:pypi/requests@2.31.0", "pkg:pypi/certifi@2023.7.22") in result.dependencies
    assert ("pkg:pypi/python-dateutil@2.8.2", "pkg:pypi/six@1.16.0") in result.dependencies


def test_malformed_line_names_file_and_line(fixtures: Path, read_manifest: ReadManifest) -> None:
    with pytest.raises(InputError) as error:
        read_manifest(READER, fixtures / "requirements" / "bad.txt")
    assert error.value.place == "line 2"
    assert error.value.source.endswith("bad.txt")


def test_include_outside_given_files_is_refused() -> None:
    with pytest.raises(InputError, match="not found among the given files"):
        READER.read(b"-r /etc/passwd\n", "app/requirements.txt", {})


def test_osv_scanner_fixtures(osv_fixtures: Path) -> None:
    pip = osv_fixtures / "pip"
    siblings = {p.as_posix(): p.read_bytes() for p in pip.iterdir()}

    def read(name: str) -> dict[str, str | None]:
        path = (pip / name).as_posix()
        result = READER.read(siblings[path], path, siblings)
        return {p.name: p.version for p in result.packages}

    assert read("empty.txt") == {}
    assert read("only-comments.txt") == {}
    assert read("one-package-unconstrained.txt") == {"flask": None}
    assert read("line-continuation.txt") == {
        "foo": "1.2.3",
        "bar": "4.5.6",
        "baz": "7.8.9",
        "qux": "10.11.12",
    }
    assert read("non-normalized-names.txt") == {
        "zope.interface": "5.4.0",
        "Pillow": "1.0.0",
        "Twisted": "20.3.0",
    }
    assert read("with-per-requirement-options.txt") == {
        "boto3": "1.26.121",
        "foo": "1.0.0",
        "FooProject": "1.2",
        "BarProject": None,
    }
    assert read("cyclic-r-self.txt") == {"requests": "1.2.3", "pandas": "0.23.4"}
    path = (pip / "cyclic-r-complex-1.txt").as_posix()
    cyclic = READER.read(siblings[path], path, siblings)
    assert sorted(p.version or "" for p in cyclic.packages) == ["1", "2", "3"]
    assert read("duplicate-r-dev.txt") == {
        "django": "0.1.0",
        "requests": "1.2.3",
        "unittest": "1.0.0",
        "pandas": "0.23.4",
    }
    example = read("file-format-example.txt")
    assert example["docopt"] == "0.6.1"
    assert example["keyring"] is None
    assert example["numpy"] == "1.9.2"  # ./downloads/numpy-1.9.2-...whl
    assert example["django"] == "2.2.24"  # -r other-file.txt
    assert len(read("multiple-packages-constrained.txt")) == 13
    with pytest.raises(InputError) as error:
        read("with-bad-r-option.txt")
    assert error.value.place == "line 3"
