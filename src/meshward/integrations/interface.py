"""What every tracker gives ticket sync, and the neutral document a ticket's text is built as.

A ticket's description is built once as a list of blocks and rendered per tracker: GitHub
Markdown, Jira v2 wiki markup, Jira v3 Atlassian Document Format. So the sync logic never
knows which tracker it writes to."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from meshward.errors import MeshwardError

State = Literal["open", "closed"]


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Code:
    text: str
    language: str | None = None


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Link:
    text: str
    url: str


Block = Heading | Paragraph | Code | Bullets | Link


@dataclass(frozen=True)
class Document:
    blocks: tuple[Block, ...]

    def to_data(self) -> list[dict[str, Any]]:
        """JSON form, for the outbox (a queued change must survive a restart)."""
        return [{"type": type(b).__name__, **b.__dict__} for b in self.blocks]

    @classmethod
    def from_data(cls, data: list[dict[str, Any]]) -> Document:
        kinds: dict[str, type[Any]] = {
            k.__name__: k for k in (Heading, Paragraph, Code, Bullets, Link)
        }
        blocks = []
        for item in data:
            fields = {k: v for k, v in item.items() if k != "type"}
            if "items" in fields:
                fields["items"] = tuple(fields["items"])
            blocks.append(kinds[item["type"]](**fields))
        return cls(tuple(blocks))


@dataclass(frozen=True)
class Draft:
    """What a ticket should say."""

    title: str
    body: Document
    labels: tuple[str, ...]


@dataclass
class RemoteIssue:
    id: str
    key: str
    """``SEC-12`` or ``#12``: what people call it."""
    url: str | None
    state: State
    labels: list[str] = field(default_factory=list)


class TrackerError(MeshwardError):
    """A tracker refused or failed. ``transient`` ones are retried with backoff;
    ``retry_after`` (seconds) is the tracker's own word on when."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient or retry_after is not None
        self.retry_after = retry_after


class Tracker(ABC):
    """One configured tracker project or repository."""

    kind: str

    @abstractmethod
    def list_managed(self, label: str) -> list[RemoteIssue]:
        """Every issue carrying ``label`` (open and closed), all pages."""

    @abstractmethod
    def find(self, key_label: str) -> RemoteIssue | None:
        """The issue carrying our idempotent label, if one was created before."""

    @abstractmethod
    def create(self, draft: Draft, key_label: str) -> RemoteIssue:
        """A new issue carrying ``key_label`` (the label a retry searches for)."""

    def tag(self, issue: RemoteIssue, key_label: str) -> None:
        """Record the key on the issue besides its label, where the tracker has a place for
        it (Jira entity properties); called once the issue is recorded locally. Labels
        alone suffice elsewhere."""
        return None

    @abstractmethod
    def update(self, issue: RemoteIssue, draft: Draft) -> None: ...

    @abstractmethod
    def set_state(self, issue: RemoteIssue, state: State) -> None: ...

    @abstractmethod
    def comment(self, issue: RemoteIssue, body: Document) -> None: ...
