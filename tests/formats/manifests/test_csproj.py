from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.manifests.csproj import CsprojReader

from .conftest import ReadManifest

READER = CsprojReader()


def test_central_package_management(fixtures: Path, read_manifest: ReadManifest) -> None:
    dotnet = fixtures / "dotnet"
    result = read_manifest(READER, dotnet / "src" / "Shop.Api" / "Shop.Api.csproj", dotnet)
    packages = {p.name: (p.version, p.scope) for p in result.packages}
    assert packages == {
        "Grpc.AspNetCore": ("2.59.0", "required"),  # $(GrpcVersion) in the props file
        "Newtonsoft.Json": ("13.0.3", "required"),  # VersionOverride
        "Serilog": ("3.1.1", "required"),
        "StyleCop.Analyzers": ("1.1.118", "excluded"),  # PrivateAssets=all
        "Unmanaged.Package": (None, "required"),  # no PackageVersion: unmatchable
        "Nerdbank.GitVersioning": ("3.6.133", "excluded"),  # GlobalPackageReference
    }
    assert "pkg:nuget/Grpc.AspNetCore@2.59.0" in {p.purl for p in result.packages}


def test_test_project_is_excluded(fixtures: Path, read_manifest: ReadManifest) -> None:
    dotnet = fixtures / "dotnet"
    result = read_manifest(READER, dotnet / "tests/Shop.Tests/Shop.Tests.csproj", dotnet)
    assert {p.scope for p in result.packages} == {"excluded"}


def test_project_without_central_management(fixtures: Path, read_manifest: ReadManifest) -> None:
    dotnet = fixtures / "dotnet"
    result = read_manifest(READER, dotnet / "legacy/Legacy/Legacy.csproj", dotnet)
    assert {p.name: p.version for p in result.packages} == {
        "StackExchange.Redis": "2.2.4",
        "Polly": "7.2.4",
        "Floating.Package": None,
        "Ranged.Package": None,
    }


def test_props_file_must_be_among_given_files(fixtures: Path) -> None:
    path = fixtures / "dotnet" / "src" / "Shop.Api" / "Shop.Api.csproj"
    result = READER.read(path.read_bytes(), path.as_posix(), {})
    assert all(p.version is None for p in result.packages)


def test_malformed() -> None:
    with pytest.raises(InputError) as error:
        READER.read(b"<Project>\n<ItemGroup>\n</Project>", "a.csproj", {})
    assert error.value.place == "line 3 column 2"
    with pytest.raises(InputError, match="not an MSBuild project"):
        READER.read(b"<project/>", "a.csproj", {})


def test_eshop_basket_api(shared_data: Path) -> None:
    eshop = shared_data / "apps" / "eshop"
    siblings = {p.as_posix(): p.read_bytes() for p in eshop.rglob("*") if p.is_file()}
    path = eshop / "src" / "Basket.API" / "Basket.API.csproj"
    result = READER.read(path.read_bytes(), path.as_posix(), siblings)
    assert {p.purl for p in result.packages} == {
        "pkg:nuget/Aspire.StackExchange.Redis@13.1.0",  # $(AspireVersion)
        "pkg:nuget/Grpc.AspNetCore@2.71.0",  # $(GrpcVersion)
    }
