"""GitHub Issues over REST (``api.github.com`` or a GitHub Enterprise ``/api/v3``).

Issues we manage carry the label ``meshward`` and our idempotent key (``meshward:<hash>``) as
labels; listing by label pages through the ``Link: <...>; rel="next"`` header. Pull requests
come back from the issues endpoints too and are skipped. Rate limits (primary: remaining 0
until reset; secondary: 403/429 with ``Retry-After`` or saying so) pause the client, see
:mod:`meshward.integrations.http`."""

from __future__ import annotations

from typing import Any

import httpx

from meshward.integrations.http import HttpClient
from meshward.integrations.interface import (
    Document,
    Draft,
    RemoteIssue,
    State,
    Tracker,
    TrackerError,
)
from meshward.integrations.render import markdown

PAGE = 100
API_VERSION = "2022-11-28"


class GitHub(Tracker):
    kind = "github"

    def __init__(
        self,
        base_url: str,
        repository: str,
        *,
        secret: str,
        allow_private: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        owner, sep, repo = repository.partition("/")
        if not sep or not owner or not repo or "/" in repo:
            raise ValueError(f"a GitHub repository is OWNER/REPO, not {repository!r}")
        self.http = HttpClient(
            "github",
            base_url,
            {
                "Authorization": f"Bearer {secret}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "meshward",
            },
            allow_private=allow_private,
            transport=transport,
        )
        self.path = f"/repos/{owner}/{repo}/issues"

    @staticmethod
    def _issue(data: dict[str, Any]) -> RemoteIssue:
        return RemoteIssue(
            id=str(data["id"]),
            key=f"#{data['number']}",
            url=data.get("html_url"),
            state="closed" if data.get("state") == "closed" else "open",
            labels=[
                label["name"] if isinstance(label, dict) else str(label)
                for label in data.get("labels") or []
            ],
        )

    def _list(self, label: str) -> list[RemoteIssue]:
        found: list[RemoteIssue] = []
        response = self.http.request(
            "GET", self.path, params={"labels": label, "state": "all", "per_page": PAGE}
        )
        while True:
            found += [self._issue(i) for i in response.json() if "pull_request" not in i]
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return found
            if not self.http.same_origin(nxt) or not httpx.URL(nxt).path.endswith(self.path):
                raise TrackerError(f"github: refused a next page outside the repository: {nxt}")
            response = self.http.request("GET", nxt)

    def list_managed(self, label: str) -> list[RemoteIssue]:
        return self._list(label)

    def find(self, key_label: str) -> RemoteIssue | None:
        found = self._list(key_label)
        return found[0] if found else None

    def create(self, draft: Draft, key_label: str) -> RemoteIssue:
        body = {"title": draft.title, "body": markdown(draft.body), "labels": list(draft.labels)}
        return self._issue(self.http.request("POST", self.path, json=body).json())

    def _number(self, issue: RemoteIssue) -> str:
        return issue.key.lstrip("#")

    def update(self, issue: RemoteIssue, draft: Draft) -> None:
        """Title and body; labels stay as set at creation plus whatever people added (a
        PATCH with ``labels`` would replace them all)."""
        body = {"title": draft.title, "body": markdown(draft.body)}
        self.http.request("PATCH", f"{self.path}/{self._number(issue)}", json=body)

    def set_state(self, issue: RemoteIssue, state: State) -> None:
        body = (
            {"state": "closed", "state_reason": "completed"}
            if state == "closed"
            else {"state": "open", "state_reason": "reopened"}
        )
        self.http.request("PATCH", f"{self.path}/{self._number(issue)}", json=body)
        issue.state = state

    def comment(self, issue: RemoteIssue, body: Document) -> None:
        self.http.request(
            "POST",
            f"{self.path}/{self._number(issue)}/comments",
            json={"body": markdown(body)},
        )
