from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from meshward.store.db import Store

from .estate import seed
from .fakes import FakeGitHub, FakeJira, basic

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def estate(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    seed(store)
    yield store
    store.dispose()


@pytest.fixture
def jira(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJira]:
    monkeypatch.setenv("JIRA_TOKEN", "jira-api-token")
    fake = FakeJira(authorization=basic("bot@acme.example", "jira-api-token")).start()
    yield fake
    fake.stop()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setenv("GH_TOKEN", "ghp-test-token")
    fake = FakeGitHub(token="ghp-test-token").start()
    yield fake
    fake.stop()
