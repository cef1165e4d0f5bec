"""Jira, REST API v2 (Data Center, wiki markup) and v3 (Cloud, Atlassian Document Format).

* Cloud authenticates with basic auth (account email + API token), Data Center with a
  personal access token as a bearer token.
* Issues we manage carry the label ``meshward`` and our idempotent key as a label
  (``meshward:<hash>``), plus an entity property ``meshward`` holding the key, so a retry after
  a crash searches before it creates.
* Search: v2 ``GET /rest/api/2/search`` pages by ``startAt``/``maxResults``/``total``; v3
  ``GET /rest/api/3/search/jql`` (Cloud's current search) pages by ``nextPageToken``.
* Closing and reopening go through the workflow's transitions: the configured name, else the
  first transition into the "done" (or "to do") status category.
"""

from __future__ import annotations

import base64
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
from meshward.integrations.render import adf, wiki

PAGE = 100
PROPERTY = "meshward"


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Jira(Tracker):
    kind = "jira"

    def __init__(
        self,
        base_url: str,
        project: str,
        *,
        api_version: str,
        auth_kind: str,
        secret: str,
        user: str | None = None,
        issue_type: str = "Task",
        done_transition: str = "Done",
        reopen_transition: str = "To Do",
        allow_private: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if api_version not in ("2", "3"):
            raise ValueError("Jira REST API version is 2 or 3")
        if auth_kind == "basic":
            token = base64.b64encode(f"{user or ''}:{secret}".encode()).decode()
            authorization = f"Basic {token}"
        else:
            authorization = f"Bearer {secret}"
        self.http = HttpClient(
            "jira",
            base_url,
            {
                "Authorization": authorization,
                "Accept": "application/json",
                "User-Agent": "meshward",
            },
            allow_private=allow_private,
            transport=transport,
        )
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.api = f"/rest/api/{api_version}"
        self.v3 = api_version == "3"
        self.issue_type = issue_type
        self.transitions = {"closed": done_transition, "open": reopen_transition}

    def _body(self, doc: Document) -> Any:
        return adf(doc) if self.v3 else wiki(doc)

    def _issue(self, data: dict[str, Any]) -> RemoteIssue:
        fields = data.get("fields") or {}
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        return RemoteIssue(
            id=str(data["id"]),
            key=str(data["key"]),
            url=f"{self.base_url}/browse/{data['key']}",
            state="closed" if category == "done" else "open",
            labels=list(fields.get("labels") or []),
        )

    def _search(self, jql: str) -> list[RemoteIssue]:
        found: list[RemoteIssue] = []
        params: dict[str, Any] = {"jql": jql, "maxResults": PAGE, "fields": "status,labels"}
        if self.v3:
            while True:
                data = self.http.request("GET", f"{self.api}/search/jql", params=params).json()
                found += [self._issue(i) for i in data.get("issues", [])]
                token = data.get("nextPageToken")
                if data.get("isLast", token is None) or not token:
                    return found
                params["nextPageToken"] = token
        start = 0
        while True:
            params["startAt"] = start
            data = self.http.request("GET", f"{self.api}/search", params=params).json()
            issues = data.get("issues", [])
            found += [self._issue(i) for i in issues]
            start += len(issues)
            if not issues or start >= int(data.get("total", 0)):
                return found

    def _jql(self, label: str) -> str:
        return (
            f"project = {_jql_string(self.project)} AND labels = {_jql_string(label)} "
            "ORDER BY key ASC"
        )

    def list_managed(self, label: str) -> list[RemoteIssue]:
        return self._search(self._jql(label))

    def find(self, key_label: str) -> RemoteIssue | None:
        found = self._search(self._jql(key_label))
        return found[0] if found else None

    def create(self, draft: Draft, key_label: str) -> RemoteIssue:
        fields = {
            "project": {"key": self.project},
            "summary": draft.title[:255],
            "description": self._body(draft.body),
            "issuetype": {"name": self.issue_type},
            "labels": list(draft.labels),
        }
        data = self.http.request("POST", f"{self.api}/issue", json={"fields": fields}).json()
        key = str(data["key"])
        return RemoteIssue(
            id=str(data["id"]),
            key=key,
            url=f"{self.base_url}/browse/{key}",
            state="open",
            labels=list(draft.labels),
        )

    def tag(self, issue: RemoteIssue, key_label: str) -> None:
        self.http.request(
            "PUT", f"{self.api}/issue/{issue.key}/properties/{PROPERTY}", json={"key": key_label}
        )

    def update(self, issue: RemoteIssue, draft: Draft) -> None:
        """Our text; our labels added, never the labels people put on the issue removed."""
        body = {
            "fields": {"summary": draft.title[:255], "description": self._body(draft.body)},
            "update": {"labels": [{"add": label} for label in draft.labels]},
        }
        self.http.request("PUT", f"{self.api}/issue/{issue.key}", json=body)

    def set_state(self, issue: RemoteIssue, state: State) -> None:
        data = self.http.request("GET", f"{self.api}/issue/{issue.key}/transitions").json()
        options = data.get("transitions", [])
        wanted = self.transitions[state]
        chosen = next((t for t in options if t.get("name", "").lower() == wanted.lower()), None)
        if chosen is None:
            categories = ("done",) if state == "closed" else ("new", "indeterminate")
            chosen = next(
                (
                    t
                    for t in options
                    if ((t.get("to") or {}).get("statusCategory") or {}).get("key") in categories
                ),
                None,
            )
        if chosen is None:
            names = ", ".join(t.get("name", "?") for t in options) or "none"
            raise TrackerError(
                f"jira {issue.key}: no transition to {state} (available: {names}); "
                "set the target's transition names"
            )
        self.http.request(
            "POST",
            f"{self.api}/issue/{issue.key}/transitions",
            json={"transition": {"id": str(chosen["id"])}},
        )
        issue.state = state

    def comment(self, issue: RemoteIssue, body: Document) -> None:
        self.http.request(
            "POST", f"{self.api}/issue/{issue.key}/comment", json={"body": self._body(body)}
        )
