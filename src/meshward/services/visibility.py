"""What an API caller may see of the catalog beyond the checks in ``auth``: any entity by
reference, whatever its kind."""

from __future__ import annotations

from sqlalchemy.orm import Session

from meshward.errors import ConflictError, NotFoundError
from meshward.services import catalog
from meshward.services.auth import Principal


def check_entity(session: Session, principal: Principal, ref: str) -> str:
    """The key of the entity ``ref`` names, if the caller may read it; unseen is absent (404),
    and so is an ambiguous name, which would reveal names in other domains."""
    try:
        key = catalog.resolve_entity_key(session, ref)
    except ConflictError:
        raise NotFoundError(f"no entity {ref!r}") from None
    if not principal.may("read", catalog.entity_domain_path(session, key)):
        raise NotFoundError(f"no entity {ref!r}")
    return key
