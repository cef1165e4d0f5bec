"""The SBOM builder, on small files and on the real demo estates in ../shared/data/apps."""

from __future__ import annotations

import contextlib
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from meshward.errors import InputError
from meshward.formats.manifests.registry import READERS, reader_for, sbom_from_manifests
from meshward.formats.sbom.common import normalize_purl
from meshward.formats.sbom.interface import SbomDocument

SCOPES = {None, "required", "optional", "excluded"}


def assert_well_formed(doc: SbomDocument) -> None:
    """What the store and the CycloneDX writer rely on."""
    refs = [p.ref for p in doc.packages]
    assert len(refs) == len(set(refs)), "refs are unique"
    known = set(refs)
    assert doc.root_refs and set(doc.root_refs) <= known
    for parent, child in doc.dependencies:
        assert parent in known and child in known and parent != child
    purls = [p.purl for p in doc.packages if p.purl]
    assert len(purls) == len(set(purls)), "deduplicated by purl"
    for package in doc.packages:
        assert package.scope in SCOPES
        if package.purl:
            assert normalize_purl(package.purl) == package.purl
        for alg, digest in package.hashes.items():
            assert alg in ("SHA-1", "SHA-256", "SHA-512") and re.fullmatch("[0-9a-f]+", digest)
    assert doc.format == "manifest" and doc.spec_version == ""


def direct_purls(doc: SbomDocument) -> set[str | None]:
    by_ref = {p.ref: p for p in doc.packages}
    return {by_ref[child].purl for parent, child in doc.dependencies if parent in doc.root_refs}


def library_purls(doc: SbomDocument) -> set[str | None]:
    return {p.purl for p in doc.packages if p.ref not in doc.root_refs}


# ----------------------------------------------------------------------------- small files


def test_every_reader_has_a_distinct_name() -> None:
    assert len({r.name for r in READERS}) == len(READERS)
    assert reader_for(Path("x/package-lock.json")) is not None
    assert reader_for(Path("x/Directory.Packages.props")) is None  # read as a sibling only


def test_lockfile_directory(fixtures: Path) -> None:
    doc = sbom_from_manifests([fixtures / "npm-v3"], "shop-web", "2.0.0")
    assert_well_formed(doc)
    assert doc.encoding == "package-lock"
    root = doc.packages[0]
    assert (root.ref, root.name, root.version, root.type) == (
        doc.root_refs[0],
        "shop-web",
        "2.0.0",
        "application",
    )
    assert root.purl == "pkg:npm/shop-web@2.0.0"  # the lockfile names the project
    assert direct_purls(doc) == {
        "pkg:npm/%40shop/ui@1.0.0",
        "pkg:npm/express@4.18.2",
        "pkg:npm/jest@29.7.0",
        "pkg:npm/fsevents@2.3.3",
    }
    assert ("pkg:npm/express@4.18.2", "pkg:npm/debug@2.6.9") in doc.dependencies


def test_merge_dedupes_and_pins_supersede_unpinned(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\nrequests==2.31.0\n")
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "requirements.txt").write_text("flask==2.0.1\nrequests==2.31.0\n")
    (tmp_path / "go.mod").write_text("module example.com/x\nrequire a.example/b v1.0.0\n")
    doc = sbom_from_manifests([tmp_path], "x", "1.0")
    assert_well_formed(doc)
    assert doc.encoding == "go.mod,requirements"
    assert library_purls(doc) == {
        "pkg:pypi/flask@2.0.1",
        "pkg:pypi/requests@2.31.0",
        "pkg:golang/a.example/b@v1.0.0",
    }
    assert direct_purls(doc) == library_purls(doc)
    assert doc.packages[0].purl is None  # go.mod names a project, requirements.txt does not


def test_walk_skips_installed_and_hidden_directories(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"dependencies": {"a": "1.0.0"}}')
    for skipped in ("node_modules/b", ".git", "vendor/c", ".venv/lib"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "package.json").write_text('{"dependencies": {"z": "9.9.9"}}')
    doc = sbom_from_manifests([tmp_path], "x", "1")
    assert library_purls(doc) == {"pkg:npm/a@1.0.0"}


def test_a_given_file_reads_its_neighbours(fixtures: Path) -> None:
    doc = sbom_from_manifests([fixtures / "go" / "go.mod"], "checkout", "3.1.0")
    assert doc.packages[0].purl == "pkg:golang/example.com/shop/checkout@3.1.0"
    hashed = [p for p in doc.packages if p.hashes]
    assert len(hashed) == 2  # go.sum beside go.mod was read


def test_errors_name_the_file(fixtures: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        sbom_from_manifests([tmp_path / "missing"], "x", "1")
    (tmp_path / "notes.md").write_text("hi")
    with pytest.raises(InputError, match="no manifest reader"):
        sbom_from_manifests([tmp_path / "notes.md"], "x", "1")
    with pytest.raises(InputError) as error:
        sbom_from_manifests([fixtures / "requirements"], "x", "1")
    assert error.value.source.endswith("requirements/bad.txt")
    assert error.value.place == "line 2"


def test_empty_directory_gives_a_root_only(tmp_path: Path) -> None:
    doc = sbom_from_manifests([tmp_path], "empty", "0.1")
    assert len(doc.packages) == 1 and doc.dependencies == [] and doc.encoding == ""


def _cyclonedx(doc: SbomDocument) -> dict[str, Any]:
    """The smallest faithful CycloneDX 1.6 rendering, to prove the document exports."""
    root, *rest = doc.packages

    def component(p: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": p.type or "library", "bom-ref": p.ref, "name": p.name}
        for key in ("version", "purl", "scope", "group"):
            if getattr(p, key):
                out[key] = getattr(p, key)
        if p.hashes:
            out["hashes"] = [{"alg": a, "content": c} for a, c in p.hashes.items()]
        return out

    depends: dict[str, list[str]] = {p.ref: [] for p in doc.packages}
    for parent, child in doc.dependencies:
        depends[parent].append(child)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": component(root)},
        "components": [component(p) for p in rest],
        "dependencies": [{"ref": r, "dependsOn": d} for r, d in depends.items()],
    }


def test_result_exports_as_valid_cyclonedx(shared_data: Path, fixtures: Path) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schemas = shared_data / "sboms" / "cyclonedx" / "schema"
    schema = json.loads((schemas / "bom-1.6.schema.json").read_text())

    def retrieve(uri: str) -> Any:
        return json.loads((schemas / uri.rsplit("/", 1)[-1]).read_text())

    validator = jsonschema_rs.validator_for(schema, retriever=retrieve)
    for directory in ("npm-v3", "yarn-v1", "go", "maven", "dotnet", "poetry"):
        doc = sbom_from_manifests([fixtures / directory], directory, "1.0.0")
        errors = [e.message for e in validator.iter_errors(_cyclonedx(doc))]
        assert errors == [], directory


# ----------------------------------------------------------------------------- real estates

OB_RELEASES = ("latest", "v0.3.0")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#\\]+)", re.MULTILINE)
_GO_REQUIRE = re.compile(
    r"^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]+/\S*|[a-z0-9.-]+\.[a-z]+)\s+(v\S+)", re.MULTILINE
)


def _ob_services(shared_data: Path, release: str) -> list[Path]:
    base = shared_data / "apps" / "online-boutique" / release / "src"
    if not base.is_dir():
        pytest.skip(f"online-boutique {release} absent")
    return sorted(p for p in base.iterdir() if p.is_dir())


def _npm_lock_pairs(lock: dict[str, Any]) -> set[tuple[str, str]]:
    """(name, version) in a package-lock, counted without the reader's code."""
    pairs: set[tuple[str, str]] = set()
    if lock.get("packages"):
        for key, entry in lock["packages"].items():
            if key.startswith("node_modules/") or "/node_modules/" in key:
                name = entry.get("name") or key.rsplit("node_modules/", 1)[1]
                pairs.add((name, entry["version"]))
        return pairs
    stack = [lock.get("dependencies", {})]
    while stack:
        for name, entry in stack.pop().items():
            pairs.add((name, entry["version"]))
            stack.append(entry.get("dependencies", {}))
    return pairs


@pytest.mark.shared
@pytest.mark.parametrize("release", OB_RELEASES)
def test_online_boutique_services_match_their_manifests(shared_data: Path, release: str) -> None:
    services = _ob_services(shared_data, release)
    assert len(services) >= 11
    for service in services:
        doc = sbom_from_manifests([service], service.name, release)
        assert_well_formed(doc)
        libraries = [p for p in doc.packages if p.ref not in doc.root_refs]
        assert libraries, service.name
        assert direct_purls(doc), service.name
        names_versions = {(p.name, p.version) for p in libraries}
        if (service / "requirements.txt").exists():
            pins = {
                (canonicalize_name(n), v)
                for n, v in _PIN.findall((service / "requirements.txt").read_text())
            }
            assert doc.encoding == "requirements"
            assert {(canonicalize_name(n), v) for n, v in names_versions} == pins
        elif (service / "go.mod").exists():
            text = (service / "go.mod").read_text().split("replace")[0]
            requires = _GO_REQUIRE.findall(text)
            assert doc.encoding == "go.mod"
            assert len(libraries) == len(requires) > 0
            module = re.search(r"^module (\S+)", text, re.MULTILINE)
            assert module and doc.packages[0].purl == f"pkg:golang/{module.group(1)}@{release}"
        elif (service / "package-lock.json").exists():
            lock = json.loads((service / "package-lock.json").read_text())
            assert doc.encoding == "package-lock"
            assert {(n, v) for n, v in names_versions} == _npm_lock_pairs(lock)
            manifest = json.loads((service / "package.json").read_text())
            declared = set(manifest["dependencies"]) | set(manifest.get("devDependencies", {}))
            assert {p.name for p in libraries if p.purl in direct_purls(doc)} == declared
        elif (service / "build.gradle").exists():
            text = (service / "build.gradle").read_text()
            coordinates = re.findall(
                r'^\s*(?:implementation|runtimeOnly)?\s*"([\w.-]+:[\w.-]+):', text, re.MULTILINE
            )
            assert doc.encoding == "gradle"
            assert {p.name for p in libraries} == set(coordinates)
            assert all(p.version for p in libraries)
        else:
            references = set()
            for csproj in service.rglob("*.csproj"):
                references |= set(
                    re.findall(
                        r'<PackageReference Include="([^"]+)" Version="([^"]+)"', csproj.read_text()
                    )
                )
            assert doc.encoding == "csproj"
            assert names_versions == references


@pytest.mark.shared
def test_online_boutique_key_facts(shared_data: Path) -> None:
    base = shared_data / "apps" / "online-boutique"

    def purls(release: str, service: str) -> set[str | None]:
        return library_purls(
            sbom_from_manifests([base / release / "src" / service], service, release)
        )

    ad_old, ad_new = purls("v0.3.0", "adservice"), purls("latest", "adservice")
    assert "pkg:maven/org.apache.logging.log4j/log4j-core@2.13.3" in ad_old  # Log4Shell era
    assert "pkg:maven/org.apache.logging.log4j/log4j-core@2.26.1" in ad_new
    frontend = sbom_from_manifests([base / "v0.3.0/src/frontend"], "frontend", "v0.3.0")
    assert "pkg:golang/github.com/gorilla/mux@v1.7.3" in direct_purls(frontend)
    indirect = "pkg:golang/github.com/google/pprof@v0.0.0-20190515194954-54271f7e092f"
    assert indirect in library_purls(frontend) - direct_purls(frontend)
    mux = next(p for p in frontend.packages if p.purl and "gorilla/mux" in p.purl)
    assert mux.hashes.get("SHA-256")  # from go.sum
    shipping = purls("v0.3.0", "shippingservice")
    # a replace for a module that is not required adds nothing
    assert not any("thrift" in (p or "") for p in shipping)
    assert "pkg:pypi/jinja2@2.11.3" in purls("v0.3.0", "emailservice")
    assert "pkg:pypi/jinja2@3.1.6" in purls("latest", "emailservice")
    cart = purls("v0.3.0", "cartservice")
    assert {"pkg:nuget/Grpc.AspNetCore@2.36.0", "pkg:nuget/StackExchange.Redis@2.2.4"} <= cart
    currency = sbom_from_manifests([base / "v0.3.0/src/currencyservice"], "currency", "v0.3.0")
    assert len(currency.dependencies) > len(direct_purls(currency))  # lockfile edges
    assert currency.packages[0].purl == "pkg:npm/grpc-currency-service@v0.3.0"


@pytest.mark.shared
def test_sock_shop_services(shared_data: Path) -> None:
    services = shared_data / "apps" / "sock-shop" / "services"
    if not services.is_dir():
        pytest.skip("sock-shop absent")
    for name in ("carts", "orders", "queue-master", "shipping"):
        pom = services / name / "pom.xml"
        doc = sbom_from_manifests([services / name], name, "1.0")
        assert_well_formed(doc)
        assert doc.encoding == "pom"
        declared = pom.read_text().split("<dependencies>", 1)[1].split("</dependencies>")[0]
        assert len(doc.packages) - 1 == declared.count("<dependency>")
        assert doc.packages[0].purl == f"pkg:maven/works.weave.microservices-demo/{name}@1.0"
    carts = sbom_from_manifests([services / "carts"], "carts", "1.0")
    carts_purls = library_purls(carts)
    assert "pkg:maven/io.prometheus/simpleclient_hotspot@0.0.21" in carts_purls  # ${property}
    # Spring Boot parent 2.0.4.RELEASE versions the starters
    assert (
        "pkg:maven/org.springframework.boot/spring-boot-starter-data-rest@2.0.4.RELEASE"
        in carts_purls
    )
    scopes = {p.name: p.scope for p in carts.packages}
    assert scopes["com.openpojo:openpojo"] == "excluded"

    front = sbom_from_manifests([services / "front-end"], "front-end", "1.0")
    assert_well_formed(front)
    assert front.encoding == "yarn.lock"
    lock = (services / "front-end" / "yarn.lock").read_text()
    headers = re.findall(r"^\S.*:$", lock, re.MULTILINE)
    versions = re.findall(r'^  version "([^"]+)"', lock, re.MULTILINE)
    assert len(headers) == len(versions) == len(front.packages) - 1 == 226
    package_json = json.loads((services / "front-end" / "package.json").read_text())
    declared = set(package_json["dependencies"]) | set(package_json["devDependencies"])
    front_direct = {p.name for p in front.packages if p.purl in direct_purls(front)}
    assert front_direct == declared
    front_scopes = {p.name: p.scope for p in front.packages if p.purl in direct_purls(front)}
    assert front_scopes["express"] == "required" and front_scopes["mocha"] == "excluded"
    # Go services vendor with gvt / glide: no reader for those (yet), so nothing is made up.
    for name in ("catalogue", "payment", "user"):
        assert len(sbom_from_manifests([services / name], name, "1.0").packages) == 1


@pytest.mark.shared
def test_eshop_central_package_management(shared_data: Path) -> None:
    eshop = shared_data / "apps" / "eshop"
    if not eshop.is_dir():
        pytest.skip("eshop absent")
    doc = sbom_from_manifests([eshop], "eshop", "1.0")
    assert_well_formed(doc)
    assert doc.encoding == "csproj,package-lock"
    nuget = [p for p in doc.packages if p.purl and p.purl.startswith("pkg:nuget/")]
    referenced: set[str] = set()
    for csproj in eshop.rglob("*.csproj"):
        referenced |= set(re.findall(r'<PackageReference Include="([^"]+)"', csproj.read_text()))
    assert {p.name for p in nuget} == referenced
    assert all(p.version for p in nuget)  # every version resolved from the props file
    purls = {p.purl for p in nuget}
    assert "pkg:nuget/Grpc.AspNetCore@2.71.0" in purls  # $(GrpcVersion)
    assert "pkg:nuget/MediatR@13.0.0" in purls
    # ClientApp opts out of central management and pins its own Google.Protobuf
    assert {"pkg:nuget/Google.Protobuf@3.29.3", "pkg:nuget/Google.Protobuf@3.33.0"} <= purls
    basket = sbom_from_manifests([eshop / "src" / "Basket.API"], "basket", "1.0")
    # Directory.Packages.props two levels up is not among the given files: no versions
    assert all(p.version is None for p in basket.packages[1:])


def test_damaged_files_give_input_error_or_a_result(fixtures: Path) -> None:
    """Mutated copies of every fixture, fed to every reader: never another exception."""
    files = sorted(p for p in fixtures.rglob("*") if p.is_file())
    rnd = random.Random(20240501)
    for _ in range(2000):
        data = bytearray(rnd.choice(files).read_bytes())
        for _ in range(rnd.randint(1, 6)):
            if not data:
                break
            pos = rnd.randrange(len(data))
            if rnd.random() < 0.5:
                data[pos] = rnd.choice(b"{}[]()\"':=,\n\\$@#<>/ ax1")
            else:
                del data[pos : pos + rnd.randint(1, 20)]
        reader = rnd.choice(READERS)
        with contextlib.suppress(InputError):
            reader.read(bytes(data), "svc/manifest", {})
