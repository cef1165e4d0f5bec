"""Which ``Ecosystem`` orders the versions of an OSV ecosystem, or of a purl type.

Modules are imported only when an ecosystem is first asked for, and each instance is made
once: a scan touching npm and PyPI never loads the Debian or Maven code. Adding an ecosystem
is one module plus one line in ``_ECOSYSTEMS`` (and in ``_PURL_TYPES`` if a purl maps to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import import_module

from meshward.ecosystems.base import Ecosystem

_ECOSYSTEMS: dict[str, str] = {
    "PyPI": "meshward.ecosystems.pypi:PyPI",
    "npm": "meshward.ecosystems.npm:Npm",
    "Go": "meshward.ecosystems.golang:Go",
    "crates.io": "meshward.ecosystems.cratesio:CratesIo",
    "Hex": "meshward.ecosystems.hex:Hex",
    "Pub": "meshward.ecosystems.pub:Pub",
    "RubyGems": "meshward.ecosystems.rubygems:RubyGems",
    "NuGet": "meshward.ecosystems.nuget:NuGet",
    "Packagist": "meshward.ecosystems.packagist:Packagist",
    "Maven": "meshward.ecosystems.maven:Maven",
    "Debian": "meshward.ecosystems.debian:Debian",
    "Ubuntu": "meshward.ecosystems.debian:Ubuntu",
    "Alpine": "meshward.ecosystems.alpine:Alpine",
    "Red Hat": "meshward.ecosystems.rpm:RedHat",
    "AlmaLinux": "meshward.ecosystems.rpm:AlmaLinux",
    "Rocky Linux": "meshward.ecosystems.rpm:RockyLinux",
    "SUSE": "meshward.ecosystems.rpm:SUSE",
    "openSUSE": "meshward.ecosystems.rpm:OpenSUSE",
}
"""OSV ecosystem name -> ``module:Class``."""

_BY_FOLDED_NAME = {name.casefold(): name for name in _ECOSYSTEMS}

_PURL_TYPES: dict[str, str] = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "hex": "Hex",
    "pub": "Pub",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
    "maven": "Maven",
}
"""purl types that name one ecosystem whatever the namespace."""

_DISTRO_PURL_TYPES: dict[str, dict[str, str]] = {
    "deb": {"debian": "Debian", "ubuntu": "Ubuntu"},
    "apk": {"alpine": "Alpine"},
    "rpm": {
        "redhat": "Red Hat",
        "rhel": "Red Hat",
        "almalinux": "AlmaLinux",
        "alma": "AlmaLinux",
        "rocky-linux": "Rocky Linux",
        "rocky": "Rocky Linux",
        "suse": "SUSE",
        "sles": "SUSE",
        "opensuse": "openSUSE",
        "opensuse-leap": "openSUSE",
        "opensuse-tumbleweed": "openSUSE",
    },
}
"""purl types shared by several distributions: the namespace (or, failing it, the ``distro``
qualifier, as in ``distro=debian-11``) says which. Aliases are the spellings SBOM tools use."""


class UnknownEcosystem(KeyError):
    """No module orders this ecosystem's versions."""


def known_ecosystems() -> tuple[str, ...]:
    return tuple(_ECOSYSTEMS)


def get_ecosystem(name: str) -> Ecosystem:
    """The ecosystem for an OSV name, with or without a release suffix: ``Debian:11``,
    ``Alpine:v3.16`` and ``Ubuntu:22.04:LTS`` order versions as ``Debian``, ``Alpine`` and
    ``Ubuntu`` do. Case is not significant."""
    canonical = _BY_FOLDED_NAME.get(name.split(":", 1)[0].strip().casefold())
    if canonical is None:
        raise UnknownEcosystem(name)
    return _load(canonical)


@cache
def _load(name: str) -> Ecosystem:
    module_name, class_name = _ECOSYSTEMS[name].split(":")
    ecosystem_class: type[Ecosystem] = getattr(import_module(module_name), class_name)
    return ecosystem_class()


def normalize_package_name(ecosystem: str, name: str) -> str:
    """The name as the ecosystem compares names, for indexing advisories and packages alike."""
    return get_ecosystem(ecosystem).normalize_name(name)


def ecosystem_for_purl(
    purl_type: str, namespace: str | None, qualifiers: Mapping[str, str]
) -> str | None:
    """The OSV ecosystem name of a purl (without a release suffix), or None when no
    ecosystem here covers it."""
    purl_type = purl_type.lower()
    if purl_type in _PURL_TYPES:
        return _PURL_TYPES[purl_type]
    distros = _DISTRO_PURL_TYPES.get(purl_type)
    if distros is None:
        return None
    if namespace and namespace.lower() in distros:
        return distros[namespace.lower()]
    distro = qualifiers.get("distro", "").lower()
    matches = [key for key in distros if distro == key or distro.startswith(key + "-")]
    return distros[max(matches, key=len)] if matches else None
