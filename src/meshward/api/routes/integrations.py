"""Integrations over HTTP: trackers, notification channels and rules (estate admins: they
decide where meshward may send), syncs and runs (admins), and what was synced and sent.
No answer ever carries a secret: targets and channels hold the names of environment
variables, and a team's own webhook URL is never stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshward.api.deps import Ctx, Page, caller, json_response, page
from meshward.errors import InputError
from meshward.services import auth, tickets
from meshward.services import notifications as nt
from meshward.services.catalog import parse_time
from meshward.store.audit import Actor
from meshward.store.models import Component

router = APIRouter(tags=["integrations"], prefix="/integrations")

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,199}$"


class TargetIn(BaseModel):
    kind: Literal["jira", "github"]
    base_url: str = Field(max_length=1000)
    project: str = Field(max_length=300)
    secret_env: str = Field(pattern=ENV_NAME, max_length=200)
    auth_kind: Literal["basic", "bearer"] = "bearer"
    auth_user: str | None = Field(None, max_length=300)
    api_version: Literal["2", "3"] = "3"
    grouping: Literal["control_service", "vulnerability_application"] = "control_service"
    labels: list[str] = Field(default_factory=list, max_length=20)
    min_priority: Literal["critical", "high", "medium", "low"] | None = None
    issue_type: str = Field("Task", max_length=100)
    done_transition: str = Field("Done", max_length=100)
    reopen_transition: str = Field("To Do", max_length=100)
    web_url: str | None = Field(None, max_length=1000)
    allow_private: bool = False


class ChannelIn(BaseModel):
    kind: Literal["webhook", "slack", "teams", "email"]
    url: str | None = Field(None, max_length=1000)
    url_env: str | None = Field(None, pattern=ENV_NAME, max_length=200)
    secret_env: str | None = Field(None, pattern=ENV_NAME, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)
    allow_private: bool = False


class RuleIn(BaseModel):
    event: Literal["critical_finding", "kev", "control_failed", "kb_update"]
    channel: str = Field(max_length=100)
    route: Literal["channel", "owner"] = "channel"
    only_prod: bool = False
    latest_only: bool = False
    min_severity: Literal["critical", "high", "medium", "low"] | None = None
    min_services: int = Field(1, ge=1)
    allow_private: bool = False


@contextmanager
def _admin_session(ctx: Ctx) -> Iterator[Session]:
    """Integrations are estate configuration: every route here is for estate admins."""
    with ctx.session() as s:
        auth.require(s, ctx.principal, "admin", None)
        yield s


def _admin(ctx: Ctx) -> None:
    with _admin_session(ctx):
        pass


# ------------------------------------------------------------------------------ tickets


@router.get("/ticket-targets", summary="Configured trackers (estate admins)")
def list_targets(ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        return json_response({"items": tickets.list_targets(s), "next": None})


@router.put("/ticket-targets/{name}", summary="Configure a tracker (estate admins)")
def put_target(name: str, body: TargetIn, ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        fields = body.model_dump(exclude={"kind", "base_url", "project", "web_url"})
        web_url = body.web_url or nt.default_web_url()
        view = tickets.add_target(
            s, name, body.kind, body.base_url, body.project, web_url=web_url, **fields
        )
    return json_response(view)


@router.delete("/ticket-targets/{name}", summary="Forget a tracker (estate admins)")
def delete_target(name: str, ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        tickets.remove_target(s, name)
    return json_response({"removed": name})


@router.post("/ticket-targets/{name}/sync", summary="Sync a tracker now (estate admins)")
async def sync_target(
    name: str, dry_run: bool = Query(False), ctx: Ctx = Depends(caller)
) -> Response:
    await run_in_threadpool(_admin, ctx)

    def work() -> dict[str, Any]:
        with tickets.durable_session(ctx.store, Actor(ctx.principal.name, "api")) as s:
            return tickets.sync_tickets(s, tickets.get_target(s, name), dry_run=dry_run).to_dict()

    return json_response(await run_in_threadpool(work))


@router.get("/ticket-links", summary="Tickets and what they stand for (what the caller may see)")
def list_links(
    target: str | None = Query(None, max_length=100),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with ctx.session() as s:
        domains = auth.visible_domain_ids(s, ctx.principal)
        components = None
        if domains is not None:
            components = set(
                s.scalars(select(Component.id).where(Component.domain_id.in_(sorted(domains))))
            )
        rows = tickets.list_links(
            s, target=target, component_ids=components, offset=pg.offset, limit=pg.fetch
        )
    return pg.respond(rows)


# ------------------------------------------------------------------------------ notifications


@router.get("/notification-channels", summary="Notification channels (estate admins)")
def list_channels(ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        return json_response({"items": nt.list_channels(s), "next": None})


@router.put("/notification-channels/{name}", summary="Configure a channel (estate admins)")
def put_channel(name: str, body: ChannelIn, ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        view = nt.add_channel(s, name, **body.model_dump())
    return json_response(view)


@router.get("/notification-rules", summary="Notification rules (estate admins)")
def list_rules(ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        return json_response({"items": nt.list_rules(s), "next": None})


@router.put("/notification-rules/{name}", summary="Add or change a rule (estate admins)")
def put_rule(name: str, body: RuleIn, ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        view = nt.add_rule(s, name, **body.model_dump())
    return json_response(view)


@router.delete("/notification-rules/{name}", summary="Remove a rule (estate admins)")
def delete_rule(name: str, ctx: Ctx = Depends(caller)) -> Response:
    with _admin_session(ctx) as s:
        nt.remove_rule(s, name)
    return json_response({"removed": name})


@router.post("/notifications/run", summary="Evaluate the rules and send (estate admins)")
async def run_rules(
    since: str | None = Query(None, description="ISO 8601 time; default: each rule's last run."),
    rule: str | None = Query(None, max_length=100),
    dry_run: bool = Query(False),
    ctx: Ctx = Depends(caller),
) -> Response:
    await run_in_threadpool(_admin, ctx)

    def work() -> dict[str, Any]:
        with tickets.durable_session(ctx.store, Actor(ctx.principal.name, "api")) as s:
            return nt.run_notifications(
                s, since=parse_time(since) if since else None, rule=rule, dry_run=dry_run
            ).to_dict()

    return json_response(await run_in_threadpool(work))


@router.post("/notifications/digest", summary="Send the daily digest per team (estate admins)")
async def send_digest(
    channel: str = Query(..., max_length=100),
    day: str | None = Query(None, description="YYYY-MM-DD; default: yesterday."),
    dry_run: bool = Query(False),
    ctx: Ctx = Depends(caller),
) -> Response:
    try:
        which = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise InputError("day", "query/day", "not a YYYY-MM-DD date") from exc
    await run_in_threadpool(_admin, ctx)

    def work() -> dict[str, Any]:
        with tickets.durable_session(ctx.store, Actor(ctx.principal.name, "api")) as s:
            return nt.daily_digest(s, channel, day=which, dry_run=dry_run).to_dict()

    return json_response(await run_in_threadpool(work))


@router.get("/deliveries", summary="Notifications sent, waiting or given up (estate admins)")
def list_deliveries(
    status: Literal["pending", "sent", "refused", "dead"] | None = Query(None),
    ctx: Ctx = Depends(caller),
    pg: Page = Depends(page),
) -> Response:
    with _admin_session(ctx) as s:
        rows = nt.list_deliveries(s, status=status, offset=pg.offset, limit=pg.fetch)
    return pg.respond(rows)
