"""Typed field access for the VEX readers: every wrong type is an ``InputError`` naming
the JSON pointer, so the readers stay short and never leak a ``KeyError``/``TypeError``."""

from __future__ import annotations

from typing import Any

from meshward.errors import InputError
from meshward.formats.sbom.common import normalize_purl


def pointer(base: str, *parts: str | int) -> str:
    """``base`` (an RFC 6901 pointer, possibly empty) extended by ``parts``."""
    return base + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def as_object(value: Any, source: str, place: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(source, place or "/", f"expected an object, found {_kind(value)}")
    return value


def as_list(value: Any, source: str, place: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(source, place or "/", f"expected an array, found {_kind(value)}")
    return value


def opt_list(obj: dict[str, Any], key: str, source: str, place: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    return as_list(value, source, pointer(place, key))


def opt_object(obj: dict[str, Any], key: str, source: str, place: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    return as_object(value, source, pointer(place, key))


def opt_str(obj: dict[str, Any], key: str, source: str, place: str) -> str | None:
    """A string field; absent, null or blank is None."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(source, pointer(place, key), f"expected a string, found {_kind(value)}")
    return value if value.strip() else None


def req_str(obj: dict[str, Any], key: str, source: str, place: str) -> str:
    value = opt_str(obj, key, source, place)
    if value is None:
        raise InputError(source, pointer(place, key), f"{key!r} is missing or empty")
    return value


def one_of(value: str | None, allowed: tuple[str, ...], what: str, source: str, place: str) -> None:
    if value is not None and value not in allowed:
        raise InputError(
            source, place, f"unknown {what} {value!r} (expected one of: {', '.join(allowed)})"
        )


def package_ref(value: str, source: str, place: str) -> str:
    """A purl in canonical form, or any other reference as written."""
    if not value.startswith("pkg:"):
        return value
    try:
        return normalize_purl(value)
    except ValueError as exc:
        raise InputError(source, place, f"malformed purl {value!r}: {exc}") from None


def check_purl(value: str, source: str, place: str) -> str:
    """Refuse a malformed purl but keep the string as written."""
    package_ref(value, source, place)
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
