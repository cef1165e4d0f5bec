"""API tokens, roles over domain subtrees, and the checks every API route makes.

A token is ``mw_<prefix>_<secret>``: the prefix finds the row, the sha256 of the whole token
is compared in constant time, and the token itself is never stored. What a caller may do is
the intersection of the token's scopes (read, write, admin) and its roles (viewer, editor,
admin), each bound to a domain and everything below it by ``Domain.path``, or to the whole
estate. Things without a domain are only for estate-wide roles.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meshward.errors import (
    AuthenticationError,
    ConflictError,
    MeshwardError,
    NotFoundError,
    PermissionDeniedError,
)
from meshward.services import catalog
from meshward.store.auth_models import ApiToken, RoleBinding
from meshward.store.models import Application, Component, ComponentVersion, Domain, Finding
from meshward.store.types import utcnow

ROLES = ("viewer", "editor", "admin")
SCOPES = ("read", "write", "admin")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "editor": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "admin"}),
}
TOKEN_PREFIX = "mw_"  # noqa: S105 (a public marker, not a secret)
LAST_USED_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most this often, so reads stay reads."""


@dataclass(frozen=True)
class Grant:
    role: str
    domain_id: int | None
    domain_path: str | None
    """None: the whole estate."""


@dataclass
class Principal:
    name: str
    kind: str
    """``token`` or ``user``."""
    scopes: frozenset[str]
    grants: list[Grant] = field(default_factory=list)

    def may(self, need: str, domain_path: str | None) -> bool:
        """Whether this caller may ``need`` (read/write/admin) on something in ``domain_path``
        (None: something with no domain, or the estate itself)."""
        if need not in self.scopes:
            return False
        for g in self.grants:
            if need not in ROLE_SCOPES[g.role]:
                continue
            if g.domain_path is None:
                return True
            if domain_path is not None and (
                domain_path == g.domain_path or domain_path.startswith(g.domain_path + ".")
            ):
                return True
        return False


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class TokenView:
    name: str
    prefix: str
    scopes: list[str]
    roles: list[dict[str, str | None]]
    created_by: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def create_token(
    session: Session,
    name: str,
    *,
    role: str,
    domain: str | None = None,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    created_by: str | None = None,
) -> tuple[TokenView, str]:
    """A new token bound to ``role`` over ``domain`` (None: the whole estate). Returns its
    view and the secret, which is never retrievable again."""
    if role not in ROLES:
        raise MeshwardError(f"role must be one of {', '.join(ROLES)}")
    wanted = sorted(set(scopes)) if scopes else sorted(ROLE_SCOPES[role])
    bad = [s for s in wanted if s not in SCOPES]
    if bad:
        raise MeshwardError(f"scope must be one of {', '.join(SCOPES)}, not {', '.join(bad)}")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise ConflictError(f"a token named {name!r} exists already")
    dom = catalog.get_domain(session, domain) if domain else None
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiToken(
            name=name,
            token_prefix=prefix,
            secret_hash=_hash(token),
            scopes=wanted,
            created_by=created_by,
            expires_at=expires_at,
        )
    )
    session.add(
        RoleBinding(
            subject_kind="token",
            subject=name,
            role=role,
            domain_id=dom.id if dom else None,
        )
    )
    session.flush()
    return _token_view(session, name), token


def grant(
    session: Session, subject_kind: str, subject: str, role: str, domain: str | None = None
) -> None:
    """One more role for a token or a user."""
    if role not in ROLES:
        raise MeshwardError(f"role must be one of {', '.join(ROLES)}")
    if subject_kind not in ("token", "user"):
        raise MeshwardError("subject kind must be token or user")
    dom = catalog.get_domain(session, domain) if domain else None
    session.add(
        RoleBinding(
            subject_kind=subject_kind, subject=subject, role=role, domain_id=dom.id if dom else None
        )
    )
    session.flush()


def _grants(session: Session, kind: str, subject: str) -> list[Grant]:
    rows = session.execute(
        select(RoleBinding.role, RoleBinding.domain_id, Domain.path)
        .outerjoin(Domain, Domain.id == RoleBinding.domain_id)
        .where(RoleBinding.subject_kind == kind, RoleBinding.subject == subject)
        .order_by(RoleBinding.id)
    ).all()
    return [Grant(role, domain_id, path) for role, domain_id, path in rows]


def _token_view(session: Session, name: str) -> TokenView:
    tok = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
    if tok is None:
        raise NotFoundError(f"no token {name!r}")
    return TokenView(
        name=tok.name,
        prefix=TOKEN_PREFIX + tok.token_prefix,
        scopes=list(tok.scopes),
        roles=[{"role": g.role, "domain": g.domain_path} for g in _grants(session, "token", name)],
        created_by=tok.created_by,
        created_at=_iso(tok.created_at) or "",
        expires_at=_iso(tok.expires_at),
        revoked_at=_iso(tok.revoked_at),
        last_used_at=_iso(tok.last_used_at),
    )


def list_tokens(session: Session) -> list[TokenView]:
    names = session.scalars(select(ApiToken.name).order_by(ApiToken.name)).all()
    return [_token_view(session, n) for n in names]


def revoke_token(session: Session, name: str) -> TokenView:
    tok = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
    if tok is None:
        raise NotFoundError(f"no token {name!r}")
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        session.flush()
    return _token_view(session, name)


def verify_token(session: Session, token: str) -> Principal:
    """The caller a bearer token stands for; AuthenticationError if it stands for no one."""
    prefix = token[len(TOKEN_PREFIX) :].split("_", 1)[0] if token.startswith(TOKEN_PREFIX) else ""
    tok = (
        session.scalars(select(ApiToken).where(ApiToken.token_prefix == prefix)).first()
        if prefix
        else None
    )
    # compare even when no row matched, so timing does not tell a known prefix apart
    expected = tok.secret_hash if tok is not None else _hash("")
    if not hmac.compare_digest(expected, _hash(token)) or tok is None:
        raise AuthenticationError("invalid token")
    return token_principal(session, tok)


def token_principal(session: Session, tok: ApiToken) -> Principal:
    """The caller a stored token stands for, once its secret has matched (a bearer token, or
    the token a web session was signed in with): refused when revoked or expired."""
    now = utcnow()
    if tok.revoked_at is not None:
        raise AuthenticationError("token revoked")
    if tok.expires_at is not None and tok.expires_at <= now:
        raise AuthenticationError("token expired")
    if tok.last_used_at is None or now - tok.last_used_at >= LAST_USED_EVERY:
        tok.last_used_at = now
    return Principal(tok.name, "token", frozenset(tok.scopes), _grants(session, "token", tok.name))


# ---------------------------------------------------------------- checks and visibility


def visible_domain_ids(
    session: Session, principal: Principal, need: str = "read"
) -> set[int] | None:
    """The domains whose things the caller may ``need``; None means every one (and things
    with no domain)."""
    if need not in principal.scopes:
        return set()
    paths: list[str] = []
    for g in principal.grants:
        if need not in ROLE_SCOPES[g.role]:
            continue
        if g.domain_path is None:
            return None
        paths.append(g.domain_path)
    if not paths:
        return set()
    conditions = [or_(Domain.path == p, Domain.path.like(p + ".%")) for p in paths]
    return set(session.scalars(select(Domain.id).where(or_(*conditions))).all())


def _domain_path(session: Session, domain_id: int | None) -> str | None:
    if domain_id is None:
        return None
    return session.scalar(select(Domain.path).where(Domain.id == domain_id))


def require(session: Session, principal: Principal, need: str, domain_id: int | None) -> None:
    """PermissionDeniedError unless the caller may ``need`` in that domain (None: estate)."""
    if not principal.may(need, _domain_path(session, domain_id)):
        where = _domain_path(session, domain_id) or "the estate"
        raise PermissionDeniedError(f"{principal.name} may not {need} in {where}")


def _guard(
    session: Session, principal: Principal, need: str, domain_id: int | None, what: str
) -> None:
    """Unseen is absent: a thing the caller may not even read is 404, never 403."""
    path = _domain_path(session, domain_id)
    if not principal.may("read", path):
        raise NotFoundError(f"no {what}")
    if not principal.may(need, path):
        raise PermissionDeniedError(f"{principal.name} may not {need} in {path or 'the estate'}")


def check_component(
    session: Session, principal: Principal, ref: str, need: str = "read"
) -> Component:
    try:
        comp = catalog.get_component(session, ref)
    except ConflictError:  # an ambiguity would reveal names in other domains
        raise NotFoundError(f"no component {ref!r}") from None
    _guard(session, principal, need, comp.domain_id, f"component {ref!r}")
    return comp


def check_application(
    session: Session, principal: Principal, ref: str, need: str = "read"
) -> Application:
    try:
        app = catalog.get_application(session, ref)
    except ConflictError:
        raise NotFoundError(f"no application {ref!r}") from None
    _guard(session, principal, need, app.domain_id, f"application {ref!r}")
    return app


def check_domain(session: Session, principal: Principal, ref: str, need: str = "read") -> Domain:
    dom = catalog.get_domain(session, ref)
    _guard(session, principal, need, dom.id, f"domain {ref!r}")
    return dom


def check_findings(session: Session, principal: Principal, ids: list[int], need: str) -> None:
    """Every finding must be the caller's to ``need``; unseen ones are reported missing."""
    rows = session.execute(
        select(Finding.id, Component.domain_id)
        .join(ComponentVersion, ComponentVersion.id == Finding.component_version_id)
        .join(Component, Component.id == ComponentVersion.component_id)
        .where(Finding.id.in_(ids))
    ).all()
    for fid, domain_id in rows:
        _guard(session, principal, need, domain_id, f"finding {fid}")


def visible_component_names(session: Session, principal: Principal) -> set[str] | None:
    """Names of the components the caller may read; None for all."""
    ids = visible_domain_ids(session, principal)
    if ids is None:
        return None
    return set(session.scalars(select(Component.name).where(Component.domain_id.in_(ids))).all())


def visible_component_keys(session: Session, principal: Principal) -> set[str] | None:
    ids = visible_domain_ids(session, principal)
    if ids is None:
        return None
    return set(session.scalars(select(Component.key).where(Component.domain_id.in_(ids))).all())


def check_triage_scope(
    session: Session, principal: Principal, scope: str, target: str | None, need: str
) -> None:
    """A triage rule is the caller's to make or end when its scope is."""
    if scope == "component" and target:
        check_component(session, principal, target, need)
    elif scope == "application" and target:
        check_application(session, principal, target, need)
    elif scope == "domain" and target:
        check_domain(session, principal, target, need)
    else:
        require(session, principal, need, None)


def check_triage_rule(session: Session, principal: Principal, rule_id: int, need: str) -> None:
    from meshward.store.models import TriageRule

    rule = session.get(TriageRule, rule_id)
    if rule is None:
        raise NotFoundError(f"no triage rule {rule_id}")
    domain_id: int | None = None
    if rule.scope == "domain":
        domain_id = rule.scope_id
    elif rule.scope == "component":
        comp = session.get(Component, rule.scope_id) if rule.scope_id else None
        domain_id = comp.domain_id if comp else None
    elif rule.scope == "application":
        app = session.get(Application, rule.scope_id) if rule.scope_id else None
        domain_id = app.domain_id if app else None
    if rule.scope == "estate":
        require(session, principal, need, None)
    else:
        _guard(session, principal, need, domain_id, f"triage rule {rule_id}")


def require_any(session: Session, principal: Principal, need: str) -> None:
    """The caller may ``need`` somewhere (estate-wide data such as advisories)."""
    if need not in principal.scopes or not any(
        need in ROLE_SCOPES[g.role] for g in principal.grants
    ):
        raise PermissionDeniedError(f"{principal.name} may not {need}")


def may_see_rule(session: Session, principal: Principal, rule_id: int) -> bool:
    try:
        check_triage_rule(session, principal, rule_id, "read")
    except (NotFoundError, PermissionDeniedError):
        return False
    return True
