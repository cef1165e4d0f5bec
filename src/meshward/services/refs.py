"""Entity reference keys: ``kind:namespace/name``, lower-cased, as Backstage compares them."""

from __future__ import annotations

DEFAULT_NAMESPACE = "default"


def entity_key(kind: str, name: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    return f"{kind}:{namespace}/{name}".lower()


def split_key(key: str) -> tuple[str, str, str]:
    kind, rest = key.split(":", 1)
    namespace, name = rest.split("/", 1)
    return kind, namespace, name


def key_candidates(ref: str, kind: str) -> list[str]:
    """Keys a user may mean by ``ref``: ``cart``, ``component:cart``, ``team/cart`` or a full
    ``component:team/cart``. A bare name matches in any namespace (resolved by the caller)."""
    ref = ref.strip()
    if ":" in ref:
        given_kind, rest = ref.split(":", 1)
        if given_kind.lower() != kind.lower():
            return []
        ref = rest
    if "/" in ref:
        namespace, name = ref.split("/", 1)
        return [entity_key(kind, name, namespace)]
    return [entity_key(kind, ref)]
