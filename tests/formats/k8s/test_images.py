"""Image references: the distribution grammar and Docker's normalisation."""

from __future__ import annotations

import pytest

from meshward.formats.k8s.images import ImageRef, ImageReferenceError, parse_image_reference

SHA = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis", ImageRef("docker.io", "library/redis", None, None)),
        ("redis:alpine", ImageRef("docker.io", "library/redis", "alpine", None)),
        ("bitnami/redis:7.2.4", ImageRef("docker.io", "bitnami/redis", "7.2.4", None)),
        (
            "index.docker.io/library/nginx:1.25",
            ImageRef("docker.io", "library/nginx", "1.25", None),
        ),
        ("docker.io/nginx", ImageRef("docker.io", "library/nginx", None, None)),
        ("localhost/app", ImageRef("localhost", "app", None, None)),
        ("localhost:5000/team/app:1.0", ImageRef("localhost:5000", "team/app", "1.0", None)),
        (
            f"registry.acme.example:5000/a/b/c:v1.2.3@{SHA}",
            ImageRef("registry.acme.example:5000", "a/b/c", "v1.2.3", SHA),
        ),
        (
            f"gcr.io/distroless/static@{SHA.upper().replace('SHA', 'sha')}",
            ImageRef("gcr.io", "distroless/static", None, SHA),
        ),
        ("[::1]:5000/app:dev", ImageRef("[::1]:5000", "app", "dev", None)),
        (
            "my-registry.io/a__b/c-d--e.f:TAG_1",
            ImageRef("my-registry.io", "a__b/c-d--e.f", "TAG_1", None),
        ),
        ("Upper/app", ImageRef("Upper", "app", None, None)),  # an upper-case first part is a host
    ],
)
def test_valid_references(text: str, expected: ImageRef) -> None:
    assert parse_image_reference(text) == expected


def test_effective_tag_and_text() -> None:
    assert parse_image_reference("redis").effective_tag == "latest"
    assert parse_image_reference(f"redis@{SHA}").effective_tag is None
    ref = parse_image_reference(f"ghcr.io/acme/cart:3.1.0@{SHA}")
    assert ref.name == "ghcr.io/acme/cart"
    assert str(ref) == f"ghcr.io/acme/cart:3.1.0@{SHA}"
    assert str(parse_image_reference("busybox")) == "docker.io/library/busybox"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("gcr.io/google-samples/microservices-demo/*:v0.3.0", "'*'"),
        ("gcr.io/Acme/app", "'Acme'"),
        ("app:bad tag", "tag"),
        ("app:", "tag"),
        (":1.0", "without a name"),
        ("app@sha256:abc", "digest"),
        ("app@sha256:" + "a" * 63, "64 hex"),
        ("app@md5", "digest"),
        ("a//b", "''"),
        ("-bad.example/app", "host"),
        ("my_registry.io/app", "host"),
        ("x" * 2000, "longer than"),
        ("a/" * 200 + "b", "longer than"),
    ],
)
def test_invalid_references(text: str, problem: str) -> None:
    with pytest.raises(ImageReferenceError) as caught:
        parse_image_reference(text)
    assert problem in str(caught.value)


def test_hostile_reference_is_rejected_fast() -> None:
    import time

    start = time.perf_counter()
    for text in ("a" + "-" * 900 + "!", "a" + "._" * 450 + "!", "a" * 250 + ":" + "b" * 127 + "!"):
        with pytest.raises(ImageReferenceError):
            parse_image_reference(text)
    assert time.perf_counter() - start < 0.5
