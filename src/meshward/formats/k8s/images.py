"""Container image references, read the way the container runtimes read them.

The grammar is the OCI distribution ``reference`` grammar; the normalisation is Docker's
(``ParseNormalizedNamed``): a first path component without ``.`` or ``:`` that is not
``localhost`` is not a registry, so ``redis`` is ``docker.io/library/redis`` and ``bitnami/redis``
is ``docker.io/bitnami/redis``; ``index.docker.io`` is ``docker.io``. A reference with neither
tag nor digest means ``:latest``. Every pattern is anchored, its repetitions cannot overlap,
and the input length is bounded first, so a hostile manifest cannot make matching slow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
MAX_NAME = 255
"""The distribution spec's limit on a repository name with its registry."""
MAX_REFERENCE = 1024

_HOST = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class ImageReferenceError(ValueError):
    """Not a valid image reference; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    """``docker.io``, ``gcr.io``, ``registry.internal:5000`` ..."""
    repository: str
    """The path in the registry: ``library/redis``, ``google-samples/microservices-demo/cart``."""
    tag: str | None
    digest: str | None
    """``sha256:<hex>`` in lower case."""

    @property
    def name(self) -> str:
        """Registry and repository: what a mapping rule matches."""
        return f"{self.registry}/{self.repository}"

    @property
    def effective_tag(self) -> str | None:
        """The tag a runtime pulls: ``latest`` when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return "latest"
        return self.tag

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def split_registry(name: str) -> tuple[str, str]:
    """(registry, remainder) by Docker's rule; Docker Hub names get their ``library/``."""
    first, slash, rest = name.partition("/")
    if not slash or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        registry, remainder = DOCKER_HUB, name
    else:
        registry, remainder = first, rest
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in remainder:
        remainder = f"library/{remainder}"
    return registry, remainder


def parse_image_reference(text: str) -> ImageRef:
    """``[host[:port]/]path[:tag][@algorithm:hex]``, normalised; ImageReferenceError if not."""
    ref = text.strip()
    if not ref:
        raise ImageReferenceError("empty image reference")
    if len(ref) > MAX_REFERENCE:
        raise ImageReferenceError(f"image reference longer than {MAX_REFERENCE} characters")
    digest: str | None = None
    if "@" in ref:
        ref, _, digest = ref.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise ImageReferenceError(f"digest {digest!r} is not algorithm:hex")
        algorithm, _, hexdigits = digest.partition(":")
        expected = _DIGEST_LENGTHS.get(algorithm.lower())
        if expected is not None and len(hexdigits) != expected:
            raise ImageReferenceError(f"{algorithm} digest needs {expected} hex digits")
        digest = f"{algorithm.lower()}:{hexdigits.lower()}"
    tag: str | None = None
    colon = ref.rfind(":")
    if colon > ref.rfind("/"):
        ref, tag = ref[:colon], ref[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ImageReferenceError(f"tag {tag!r} is not a valid tag")
    if not ref:
        raise ImageReferenceError("image reference without a name")
    if len(ref) > MAX_NAME:
        raise ImageReferenceError(f"image name longer than {MAX_NAME} characters")
    registry, repository = split_registry(ref)
    if registry != DOCKER_HUB and not _HOST.fullmatch(registry):
        raise ImageReferenceError(f"registry {registry!r} is not a host name")
    for component in repository.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            raise ImageReferenceError(
                f"repository path component {component!r} must be lower-case letters and "
                "digits, separated by '.', '_', '__' or '-'"
            )
    return ImageRef(registry, repository, tag, digest)
