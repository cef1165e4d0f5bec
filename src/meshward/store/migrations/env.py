"""Alembic environment: the engine comes from meshward's Store, never from an ini file."""

from __future__ import annotations

from alembic import context

from meshward.store import (  # noqa: F401
    auth_models,
    integration_models,
    revision,
    scan_models,
    threat_models,
)
from meshward.store.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    revision.migrating(connection, True)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    try:
        context.run_migrations()
    finally:
        revision.migrating(connection, False)
