"""Backstage catalog reader: fixtures for every rule, then Backstage's own example catalog."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from meshward.errors import InputError
from meshward.formats.backstage import (
    CatalogErrors,
    CatalogRead,
    Entity,
    EntityRef,
    find_placeholders,
    parse_ref,
    read_catalog,
)
from meshward.limits import Limits

FIXTURES = Path(__file__).parent / "fixtures" / "backstage"
ERRORS = FIXTURES / "errors"


def by_ref(read: CatalogRead) -> dict[str, Entity]:
    return {e.ref.key: e for e in read.entities}


def errors_of(*paths: Path, **kwargs: object) -> list[InputError]:
    with pytest.raises(CatalogErrors) as caught:
        read_catalog(list(paths), **kwargs)  # type: ignore[arg-type]
    return caught.value.errors


# ------------------------------------------------------------------------------------------
# parse_ref


def ref(text: str | dict[str, str], default_kind: str | None = "group") -> EntityRef:
    return parse_ref(text, default_kind=default_kind, default_namespace="ns", source="f", place="p")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api:default/cart", "api:default/cart"),
        ("cart", "group:ns/cart"),
        ("component:cart", "component:ns/cart"),
        ("default/team-a", "group:default/team-a"),
        ("User:Alice.Smith", "user:ns/Alice.Smith"),
        ({"kind": "API", "namespace": "billing", "name": "invoices"}, "api:billing/invoices"),
        ({"name": "x"}, "group:ns/x"),
    ],
)
def test_parse_ref_forms(text: str | dict[str, str], expected: str) -> None:
    assert str(ref(text)) == expected


def test_ref_key_is_case_insensitive_but_stored_as_written() -> None:
    a, b = ref("Component:ns/Cart"), ref("component:ns/cart")
    assert a.name == "Cart" and a.kind == "component"
    assert a.key == b.key == "component:ns/cart"
    assert str(a) == "component:ns/Cart"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not of the form"),
        (":x", "not of the form"),
        ("api:/x", "not of the form"),
        ("api:ns/", "not of the form"),
        ("ns/a/b", "invalid name"),
        ("api:Bad_NS/x", "invalid namespace"),
        ("api:ns/has space", "invalid name"),
        ({"kind": "api"}, "has no name"),
        ({"name": ""}, "not a non-empty string"),
    ],
)
def test_parse_ref_rejects_malformed(text: str | dict[str, str], why: str) -> None:
    with pytest.raises(InputError, match=why) as caught:
        ref(text)
    assert caught.value.source == "f" and caught.value.place == "p"


def test_parse_ref_without_kind_and_no_default() -> None:
    with pytest.raises(InputError, match="has no kind"):
        ref("artists-db", default_kind=None)
    assert str(ref("resource:artists-db", default_kind=None)) == "resource:ns/artists-db"


# ------------------------------------------------------------------------------------------
# A valid multi-document file


@pytest.fixture(scope="module")
def valid() -> CatalogRead:
    return read_catalog([FIXTURES / "valid" / "catalog-info.yaml"])


def test_multi_document_file(valid: CatalogRead) -> None:
    kinds = Counter(e.kind for e in valid.entities)
    assert kinds == {
        "Component": 1,
        "API": 2,
        "Resource": 1,
        "System": 1,
        "Domain": 1,
        "Group": 1,
        "User": 1,
    }
    assert any("Template: ignored" in w for w in valid.warnings)
    assert any("kind 'api' read as 'API'" in w for w in valid.warnings)
    # the empty document still counts: the API after it is document 3
    assert by_ref(valid)["api:shop/cart-api"].place == "document 3 (api:shop/cart-api)"
    assert valid.files == [str(FIXTURES / "valid" / "catalog-info.yaml")]


def test_component_fields(valid: CatalogRead) -> None:
    cart = by_ref(valid)["component:shop/cart"]
    assert cart.kind == "Component"
    assert cart.ref == EntityRef("component", "shop", "Cart")
    assert cart.api_version == "backstage.io/v1alpha1"
    assert cart.title == "Shopping cart"
    assert cart.description == "Keeps what a customer is about to buy."
    assert cart.labels == {"example.com/tier": "gold", "lang": ""}
    assert cart.annotations["github.com/project-slug"] == "acme/cart"
    assert cart.tags == ["python", "c++", "tier:1"]
    assert cart.links == [
        {"url": "https://cart.example.com/admin", "title": "Admin", "icon": "dashboard"}
    ]
    assert cart.source.endswith("catalog-info.yaml")
    # YAML 1.2 scalars as Backstage reads them: no yes->True, no date objects
    assert cart.spec["deployed"] == "yes"
    assert cart.spec["since"] == "2024-01-02"


def test_relations_use_backstage_default_kinds_and_own_namespace(valid: CatalogRead) -> None:
    entities = by_ref(valid)
    rel = {key: [(r, str(t)) for r, t in e.relations] for key, e in entities.items()}
    assert rel["component:shop/cart"] == [
        ("ownedBy", "group:shop/team-shop"),
        ("partOf", "system:shop/checkout"),
        ("subcomponentOf", "component:shop/storefront"),
        ("providesApi", "api:shop/cart-api"),
        ("consumesApi", "api:default/payments-api"),
        ("consumesApi", "api:billing/invoices"),
        ("dependsOn", "resource:shop/cart-db"),
    ]
    assert rel["api:shop/cart-api"] == [
        ("ownedBy", "group:default/team-shop"),
        ("partOf", "system:shop/checkout"),
    ]
    assert rel["api:shop/remote-api"] == [("ownedBy", "user:shop/alice")]
    assert rel["resource:shop/cart-db"] == [
        ("ownedBy", "group:shop/team-shop"),
        ("partOf", "system:shop/checkout"),
        ("dependencyOf", "component:shop/cart"),
    ]
    assert rel["system:shop/checkout"] == [
        ("ownedBy", "group:shop/team-shop"),
        ("partOf", "domain:shop/commerce"),
    ]
    assert rel["domain:shop/commerce"] == [
        ("ownedBy", "group:shop/team-shop"),
        ("partOf", "domain:default/acme"),
    ]
    assert rel["group:default/team-shop"] == [
        ("childOf", "group:default/engineering"),
        ("hasMember", "user:default/alice"),
    ]
    assert rel["user:default/alice"] == [("memberOf", "group:default/team-shop")]


def test_substitutions_stay_unresolved(valid: CatalogRead) -> None:
    entities = by_ref(valid)
    assert entities["api:shop/cart-api"].spec["definition"] == {"$text": "./cart.oas.yaml"}
    remote = entities["api:shop/remote-api"]
    assert list(find_placeholders(remote.spec)) == [
        ("spec.definition", "$json", "https://api.example.com/openapi.json")
    ]


# ------------------------------------------------------------------------------------------
# Locations


def test_location_targets_followed_once_urls_not_fetched() -> None:
    root = FIXTURES / "locations" / "root.yaml"
    read = read_catalog([root])
    names = sorted(str(e.ref) for e in read.entities)
    assert names == [
        "component:default/a",
        "component:default/b",
        "location:default/back",
        "location:default/remote",
        "location:default/root",
        "system:default/c",
    ]
    # every file once, although sub/a.yaml names root.yaml and itself
    assert sorted(Path(f).name for f in read.files) == ["a.yaml", "b.yml", "c.yml", "root.yaml"]
    assert len(read.files) == len(set(read.files))
    text = "\n".join(read.warnings)
    assert "'./missing.yaml' not found" in text
    assert "https://github.com/acme/catalog/blob/main/catalog-info.yaml' is a URL: not fetched" in (
        text
    )
    assert "of type url not fetched" in text


def test_location_outside_roots_not_followed(tmp_path: Path) -> None:
    inner = tmp_path / "catalog"
    inner.mkdir()
    (tmp_path / "secret.yaml").write_text("apiVersion: x\nkind: Component\n")
    (inner / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: l}\n"
        "spec: {targets: [../secret.yaml]}\n"
    )
    read = read_catalog([inner / "catalog-info.yaml"])
    assert [str(e.ref) for e in read.entities] == ["location:default/l"]
    assert any("outside the catalog roots" in w for w in read.warnings)
    with pytest.raises(CatalogErrors):  # followed when allowed: secret.yaml is then invalid
        read_catalog([inner / "catalog-info.yaml"], confine=False)


def test_directory_reads_every_yaml_file_sorted() -> None:
    read = read_catalog([FIXTURES / "locations"])
    assert len(read.entities) == 6
    assert len(read.files) == 4


def test_non_entity_yaml_in_directory_is_skipped_with_warning() -> None:
    read = read_catalog([FIXTURES / "valid"])
    assert len(read.entities) == 8
    assert any("cart.oas.yaml" in w and "not a catalog entity, skipped" in w for w in read.warnings)


# ------------------------------------------------------------------------------------------
# Errors, one class at a time


def one_error(name: str, **kwargs: object) -> InputError:
    errors = errors_of(ERRORS / name, **kwargs)
    assert len(errors) == 1, errors
    assert errors[0].source == str(ERRORS / name)
    return errors[0]


def test_invalid_yaml_names_the_line() -> None:
    error = one_error("invalid-yaml.yaml")
    assert error.place == "line 6"
    assert error.message.startswith("invalid YAML")


def test_bad_api_version() -> None:
    error = one_error("bad-api-version.yaml")
    assert error.place == "component:default/versioned field apiVersion"
    assert "backstage.io/v2" in error.message


def test_unknown_kind_is_an_error_or_a_warning() -> None:
    error = one_error("unknown-kind.yaml")
    assert error.place == "document 1 field kind"
    assert "Pipeline" in error.message
    read = read_catalog([ERRORS / "unknown-kind.yaml"], unknown_kinds="warn")
    assert read.entities == [] and "skipped" in read.warnings[0]
    (kept,) = read_catalog([ERRORS / "unknown-kind.yaml"], unknown_kinds="keep").entities
    assert (kept.kind, kept.ref.key, kept.spec, kept.relations) == (
        "Pipeline",
        "pipeline:default/dev",
        {"lifecycle": "dev"},
        [],
    )


def test_bad_name() -> None:
    error = one_error("bad-name.yaml")
    assert error.place == "document 1 field metadata.name"


def test_bad_namespace() -> None:
    error = one_error("bad-namespace.yaml")
    assert error.place == "document 1 field metadata.namespace"


def test_bad_labels_annotations_tags_all_reported() -> None:
    errors = errors_of(ERRORS / "bad-metadata.yaml")
    places = sorted(e.place or "" for e in errors)
    assert places == [
        "component:default/labelled field metadata.annotations.example.com/number",
        "component:default/labelled field metadata.labels.bad key with spaces",
        "component:default/labelled field metadata.labels.example.com/ok",
        "component:default/labelled field metadata.tags[0]",
    ]


def test_required_spec_fields_per_kind() -> None:
    errors = errors_of(ERRORS / "missing-spec-fields.yaml")
    assert sorted(e.place or "" for e in errors) == [
        "api:default/no-definition field spec.definition",
        "component:default/no-owner field spec.owner",
        "group:default/no-children field spec.children",
        "location:default/no-target field spec",
    ]


def test_depends_on_needs_a_kind() -> None:
    error = one_error("bad-reference.yaml")
    assert error.place == "component:default/needs-db field spec.dependsOn[0]"
    assert "has no kind" in error.message


def test_duplicate_entity_across_files_names_both() -> None:
    errors = errors_of(ERRORS / "duplicate-a.yaml", ERRORS / "duplicate-b.yaml")
    assert len(errors) == 1
    assert errors[0].source == str(ERRORS / "duplicate-b.yaml")
    assert "duplicate-a.yaml" in errors[0].message and "defined twice" in errors[0].message


def test_duplicate_mapping_key() -> None:
    error = one_error("duplicate-key.yaml")
    assert error.place == "line 9" and "duplicate key 'owner'" in error.message


def test_document_not_a_mapping() -> None:
    assert one_error("not-a-mapping.yaml").place == "document 1"


def test_alias_bomb_refused_quickly() -> None:
    started = time.monotonic()
    error = one_error("alias-bomb.yaml")
    assert "alias bomb" in error.message
    assert time.monotonic() - started < 2


def test_recursive_alias_refused() -> None:
    error = one_error("recursive-alias.yaml")
    assert error.place is not None and error.place.startswith("line")


def test_all_errors_collected_into_one() -> None:
    with pytest.raises(CatalogErrors) as caught:
        read_catalog([ERRORS])
    errors = caught.value.errors
    assert len(errors) >= 15
    assert isinstance(caught.value, InputError)
    assert re.search(r"\(and \d+ more problems\)$", str(caught.value))
    assert {Path(e.source).name for e in errors} >= {
        p.name for p in ERRORS.iterdir() if p.name != "duplicate-a.yaml"
    }


def test_missing_path() -> None:
    errors = errors_of(FIXTURES / "nope.yaml")
    assert errors[0].message == "no such file or directory"


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("apiVersion: backstage.io/v1alpha1\n" + "#" * 2000 + "\n")
    errors = errors_of(big, limits=Limits(max_bytes=1000))
    assert "more than the limit of 1000" in errors[0].message


def test_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: d}\n"
        "spec: {type: s, lifecycle: l, owner: o, x: " + "[" * 100 + "]" * 100 + "}\n"
    )
    errors = errors_of(deep)
    assert "nesting deeper than 64" in errors[0].message


def test_merge_keys_and_small_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: m}\n"
        "spec:\n  base: &base {type: service, lifecycle: production}\n"
        "  <<: *base\n  owner: team-a\n"
    )
    (entity,) = read_catalog([path]).entities
    assert entity.spec["type"] == "service"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    errors = errors_of(path)
    assert errors[0].message == "not valid UTF-8 text"


# ------------------------------------------------------------------------------------------
# Backstage's own example catalog (../shared/data/backstage/examples)


def independent_kind_count(files: list[Path]) -> Counter[str]:
    """Count kinds with plain PyYAML, not through the reader."""
    counts: Counter[str] = Counter()
    for path in files:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and "kind" in doc:
                counts[doc["kind"]] += 1
    return counts


@pytest.fixture(scope="module")
def examples(shared_data: Path) -> Path:
    path = shared_data / "backstage" / "examples"
    if not path.is_dir():
        pytest.skip("backstage examples absent")
    return path


@pytest.mark.shared
def test_examples_every_file_reads(examples: Path) -> None:
    for path in sorted(examples.rglob("*.yaml")):
        read = read_catalog([path], confine=False)
        if path.name.endswith(".oas.yaml"):
            assert read.entities == [] and "not a catalog entity" in read.warnings[0]
        elif path.parent == examples:
            assert read.entities and read.entities[0].kind == "Location"
        else:
            assert len(read.entities) == 1


@pytest.mark.shared
def test_examples_all_yaml_as_location_root(examples: Path) -> None:
    read = read_catalog([examples / "all.yaml"])
    # independent count: the files that the Location tree names and that exist
    named: list[Path] = []
    queue = [examples / "all.yaml"]
    while queue:
        location = queue.pop()
        named.append(location)
        doc = yaml.safe_load(location.read_text(encoding="utf-8"))
        if doc["kind"] == "Location":
            for target in doc["spec"]["targets"]:
                candidate = (location.parent / target).resolve()
                if candidate.is_file():
                    queue.append(candidate)
    assert Counter(e.kind for e in read.entities) == independent_kind_count(named)
    assert Counter(e.kind for e in read.entities) == {
        "API": 9,
        "Component": 9,
        "Location": 6,
        "Domain": 3,
        "System": 3,
        "Resource": 1,
    }
    # the dangling targets, left out of the copy on purpose, are warnings
    assert sum("not found" in w for w in read.warnings) == 6


@pytest.mark.shared
def test_examples_directory_as_a_whole(examples: Path) -> None:
    read = read_catalog([examples])
    files = sorted(examples.rglob("*.yaml"))
    expected = independent_kind_count(files)
    assert Counter(e.kind for e in read.entities) == expected
    assert Counter(e.kind for e in read.entities) == {
        "API": 18,
        "Component": 18,
        "Location": 8,
        "Domain": 3,
        "System": 3,
        "Resource": 1,
        "Environment": 2,
    }
    assert len(read.files) == len(files) == 55  # each file once, Locations notwithstanding
    keys = [e.ref.key for e in read.entities]
    assert len(keys) == len(set(keys))

    kept = read_catalog([examples], unknown_kinds="keep")
    assert Counter(e.kind for e in kept.entities) == independent_kind_count(files)


@pytest.mark.shared
def test_examples_substitutions_unresolved_and_relations(examples: Path) -> None:
    read = read_catalog([examples], unknown_kinds="warn")
    entities = by_ref(read)
    assert entities["api:default/petstore-webhook"].spec["definition"] == {
        "$text": "./petstore-webhook.oas.yaml"
    }
    spotify = entities["api:default/spotify"].spec["definition"]
    assert set(spotify) == {"$text"} and spotify["$text"].startswith("https://github.com/")
    placeholders = [p for e in read.entities for p in find_placeholders(e.spec)]
    assert all(directive == "$text" for _, directive, _ in placeholders)
    assert len(placeholders) == sum(
        "$text:" in p.read_text(encoding="utf-8") for p in (examples / "apis").glob("*-api.yaml")
    )
    # inline definitions are kept as text
    assert entities["api:default/petstore"].spec["definition"].startswith("openapi:")

    rel = {k: [(r, str(t)) for r, t in e.relations] for k, e in entities.items()}
    assert ("dependsOn", "resource:default/artists-db") in rel["component:default/artist-lookup"]
    assert rel["system:default/podcast"] == [
        ("ownedBy", "group:default/team-b"),
        ("partOf", "domain:default/playback"),
    ]
    assert ("ownedBy", "user:default/frank.tiernan") in rel["domain:default/playback"]
    assert ("partOf", "domain:default/audio") in rel["domain:default/artists"]
    # a Component named in consumesApis is kept, as Backstage keeps it, and warned about
    assert ("consumesApi", "component:default/artist-lookup") in rel[
        "component:default/dream11-svc"
    ]
    assert any("dream11" in w and "where api was expected" in w for w in read.warnings)
    shuffle = entities["component:default/shuffle-api"]
    assert shuffle.labels == {"goVersion": "go1.15.3", "category": "music"}
