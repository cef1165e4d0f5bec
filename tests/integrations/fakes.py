"""Faithful fakes of the outside services meshward talks to, on 127.0.0.1.

Each fake is a real HTTP server (``http.server`` in a thread) implementing the documented
endpoints meshward uses, with their status codes, error bodies, pagination and rate-limit
headers, and recording every request. A fake can be told to die after N requests: the N-th is
processed (the issue exists) but never answered, and the server stops — what a crash of the
tracker or the network between "created remotely" and "recorded locally" looks like. Its
state survives a restart on the same port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class FakeService:
    """Base: start/stop/restart on a fixed port, a request log, a kill switch."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.port = _free_port()
        self.die_after: int | None = None
        self._server: _Server | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeService:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stall

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            server.server_close()

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        req = Request(h.command, parts.path, query, dict(h.headers.items()), body, raw)
        with self._lock:
            self.requests.append(req)
            status, headers, payload = self.handle(req)
            dying = self.die_after is not None and len(self.requests) >= self.die_after
        if dying:  # processed, never answered; then the service is gone
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            threading.Thread(target=self.stop, daemon=True).start()
            return
        data = (
            b""
            if payload is None
            else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        )
        h.send_response(status)
        if data and "Content-Type" not in headers:
            h.send_header("Content-Type", "application/json")
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def handle(self, req: Request) -> Answer:
        raise NotImplementedError

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method in (None, r.method)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ Jira


JIRA_TRANSITIONS = [
    {"id": "11", "name": "To Do", "to": {"name": "To Do", "statusCategory": {"key": "new"}}},
    {
        "id": "21",
        "name": "In Progress",
        "to": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    },
    {"id": "31", "name": "Done", "to": {"name": "Done", "statusCategory": {"key": "done"}}},
]
JQL_TERM = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


class FakeJira(FakeService):
    """Jira Cloud/Data Center REST v2 and v3: issues, search (v2 ``/search`` with
    startAt/maxResults/total, v3 ``/search/jql`` with nextPageToken), transitions, comments,
    entity properties; 401 without the right credentials; 429 with Retry-After on demand."""

    def __init__(self, *, project: str = "SEC", authorization: str, page_size: int = 2) -> None:
        super().__init__()
        self.project = project
        self.authorization = authorization
        self.page_size = page_size
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[Any]] = {}
        self.properties: dict[str, dict[str, Any]] = {}
        self.rate_limited: set[int] = set()
        """Request numbers (1-based, over the fake's life) answered 429 + Retry-After."""
        self.seq = 0

    def _err(self, status: int, *messages: str, **errors: str) -> Answer:
        return status, {}, {"errorMessages": list(messages), "errors": errors}

    def close(self, key: str) -> None:
        """A person moves the issue to Done."""
        self.issues[key]["fields"]["status"] = JIRA_TRANSITIONS[2]["to"]

    def reopen(self, key: str) -> None:
        self.issues[key]["fields"]["status"] = JIRA_TRANSITIONS[0]["to"]

    def state(self, key: str) -> str:
        return str(self.issues[key]["fields"]["status"]["statusCategory"]["key"])

    def handle(self, req: Request) -> Answer:
        if req.headers.get("Authorization") != self.authorization:
            return self._err(
                401, "You are not authenticated. Authentication required to perform this operation."
            )
        if len(self.requests) in self.rate_limited:
            return (
                429,
                {"Retry-After": "30"},
                {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            )
        m = re.fullmatch(r"/rest/api/(2|3)(/.*)", req.path)
        if not m:
            return 404, {}, {"errorMessages": ["No such endpoint"], "errors": {}}
        version, rest = m.groups()
        if rest == "/search" and req.method == "GET":
            if version == "3":
                return (
                    410,
                    {},
                    self._err(
                        410, "The requested API has been removed. Use /rest/api/3/search/jql"
                    )[2],
                )
            return self._search_v2(req)
        if rest == "/search/jql" and req.method == "GET" and version == "3":
            return self._search_v3(req)
        if rest == "/issue" and req.method == "POST":
            return self._create(req, version)
        m2 = re.fullmatch(r"/issue/([A-Z]+-\d+)(/.*)?", rest)
        if not m2:
            return self._err(404, "Not found")
        key, sub = m2.group(1), m2.group(2) or ""
        issue = self.issues.get(key)
        if issue is None:
            return self._err(404, "Issue does not exist or you do not have permission to see it.")
        if sub == "" and req.method == "PUT":
            problem = self._check_fields(req.body.get("fields", {}), version, creating=False)
            if problem:
                return problem
            issue["fields"].update(req.body.get("fields", {}))
            for op in (req.body.get("update") or {}).get("labels", []):
                labels = issue["fields"].setdefault("labels", [])
                if "add" in op and op["add"] not in labels:
                    labels.append(op["add"])
                if "remove" in op and op["remove"] in labels:
                    labels.remove(op["remove"])
            return 204, {}, None
        if sub == "/transitions" and req.method == "GET":
            return 200, {}, {"expand": "transitions", "transitions": JIRA_TRANSITIONS}
        if sub == "/transitions" and req.method == "POST":
            wanted = str(((req.body or {}).get("transition") or {}).get("id"))
            chosen = next((t for t in JIRA_TRANSITIONS if t["id"] == wanted), None)
            if chosen is None:
                return self._err(400, f"Transition id '{wanted}' is not valid for this issue.")
            issue["fields"]["status"] = chosen["to"]
            return 204, {}, None
        if sub == "/comment" and req.method == "POST":
            body = (req.body or {}).get("body")
            if not self._valid_body(body, version):
                return self._err(400, "", comment="Comment body can not be empty!")
            self.comments.setdefault(key, []).append(body)
            return 201, {}, {"id": str(len(self.comments[key])), "body": body}
        m3 = re.fullmatch(r"/properties/([\w.-]+)", sub)
        if m3 and req.method == "PUT":
            created = m3.group(1) not in self.properties.setdefault(key, {})
            self.properties[key][m3.group(1)] = req.body
            return (201 if created else 200), {}, None
        return self._err(405, "Method not allowed")

    @staticmethod
    def _valid_body(body: Any, version: str) -> bool:
        if version == "2":
            return isinstance(body, str) and bool(body.strip())
        return isinstance(body, dict) and body.get("type") == "doc" and body.get("version") == 1

    def _check_fields(
        self, fields: dict[str, Any], version: str, *, creating: bool
    ) -> Answer | None:
        if "description" in fields and not self._valid_body(fields["description"], version):
            expected = "a string" if version == "2" else "an Atlassian Document"
            return self._err(400, description=f"Operation value must be {expected}")
        if "labels" in fields and any(" " in label for label in fields["labels"]):
            return self._err(400, labels="The label can't contain spaces.")
        if creating:
            if (fields.get("project") or {}).get("key") != self.project:
                return self._err(400, project="valid project is required")
            if not fields.get("summary"):
                return self._err(400, summary="You must specify a summary of the issue.")
            if not (fields.get("issuetype") or {}).get("name"):
                return self._err(400, issuetype="valid issue type is required")
        return None

    def _create(self, req: Request, version: str) -> Answer:
        fields = (req.body or {}).get("fields") or {}
        problem = self._check_fields(fields, version, creating=True)
        if problem:
            return problem
        self.seq += 1
        key = f"{self.project}-{self.seq}"
        issue_id = str(10000 + self.seq)
        self.issues[key] = {
            "id": issue_id,
            "key": key,
            "fields": {**fields, "status": JIRA_TRANSITIONS[0]["to"]},
        }
        return (
            201,
            {},
            {"id": issue_id, "key": key, "self": f"{self.url}/rest/api/{version}/issue/{issue_id}"},
        )

    def _matching(self, jql: str) -> list[dict[str, Any]]:
        terms = {k.lower(): v.replace('\\"', '"') for k, v in JQL_TERM.findall(jql)}
        out = []
        for issue in self.issues.values():
            f = issue["fields"]
            if "project" in terms and f["project"]["key"] != terms["project"]:
                continue
            if "labels" in terms and terms["labels"] not in f.get("labels", []):
                continue
            out.append(issue)
        return sorted(out, key=lambda i: int(i["key"].split("-")[1]))

    def _view(self, issue: dict[str, Any], wanted: str) -> dict[str, Any]:
        names = wanted.split(",") if wanted else list(issue["fields"])
        return {
            "id": issue["id"],
            "key": issue["key"],
            "fields": {n: issue["fields"].get(n) for n in names if n in issue["fields"]},
        }

    def _search_v2(self, req: Request) -> Answer:
        found = self._matching(req.query.get("jql", ""))
        start = int(req.query.get("startAt", 0))
        size = min(int(req.query.get("maxResults", 50)), self.page_size)
        page = found[start : start + size]
        return (
            200,
            {},
            {
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": [self._view(i, req.query.get("fields", "")) for i in page],
            },
        )

    def _search_v3(self, req: Request) -> Answer:
        found = self._matching(req.query.get("jql", ""))
        start = int(req.query.get("nextPageToken") or 0)
        size = min(int(req.query.get("maxResults", 50)), self.page_size)
        page = found[start : start + size]
        body: dict[str, Any] = {
            "issues": [self._view(i, req.query.get("fields", "")) for i in page],
            "isLast": start + size >= len(found),
        }
        if not body["isLast"]:
            body["nextPageToken"] = str(start + size)
        return 200, {}, body


# ------------------------------------------------------------------------------ GitHub


class FakeGitHub(FakeService):
    """GitHub REST issues: create, list by labels with ``Link`` pagination, update state,
    comment; primary rate limit headers on every answer (403 when spent), secondary limit
    (403 + Retry-After) on demand; pull requests mixed into issue lists."""

    def __init__(self, *, repo: str = "acme/shop", token: str, page_size: int = 2) -> None:
        super().__init__()
        self.repo = repo
        self.token = token
        self.page_size = page_size
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[str]] = {}
        self.remaining = 5000
        self.reset = 2_000_000_000
        self.secondary_next = 0
        self.add_pull_request()

    def add_pull_request(self) -> None:
        number = len(self.issues) + 1
        self.issues[number] = {
            "id": 900 + number,
            "number": number,
            "title": "a pull request",
            "state": "open",
            "labels": [{"name": "meshward"}],
            "pull_request": {"url": "..."},
            "html_url": f"https://github.example/{self.repo}/pull/{number}",
        }

    def close(self, number: int) -> None:
        self.issues[number]["state"] = "closed"

    def reopen(self, number: int) -> None:
        self.issues[number]["state"] = "open"

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Used": str(5000 - self.remaining),
            "X-RateLimit-Resource": "core",
        }

    def handle(self, req: Request) -> Answer:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return (
                401,
                {},
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
            )
        if self.secondary_next:
            self.secondary_next -= 1
            return (
                403,
                {"Retry-After": "60", **self._rate_headers()},
                {
                    "message": "You have exceeded a secondary rate limit. "
                    "Please wait a few minutes before you try again.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
            )
        if self.remaining <= 0:
            return (
                403,
                self._rate_headers(),
                {
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
            )
        self.remaining -= 1
        headers = self._rate_headers()
        base = f"/repos/{self.repo}/issues"
        if req.path == base and req.method == "GET":
            return self._list(req, headers)
        if req.path == base and req.method == "POST":
            body = req.body or {}
            if not isinstance(body.get("title"), str) or not body["title"]:
                return (
                    422,
                    headers,
                    {
                        "message": "Validation Failed",
                        "errors": [
                            {"resource": "Issue", "code": "missing_field", "field": "title"}
                        ],
                    },
                )
            number = len(self.issues) + 1
            issue = {
                "id": 5000 + number,
                "number": number,
                "title": body["title"],
                "body": body.get("body"),
                "state": "open",
                "labels": [{"name": n} for n in body.get("labels", [])],
                "html_url": f"https://github.example/{self.repo}/issues/{number}",
            }
            self.issues[number] = issue
            return 201, headers, issue
        m = re.fullmatch(re.escape(base) + r"/(\d+)(/comments)?", req.path)
        if not m or int(m.group(1)) not in self.issues:
            return (
                404,
                headers,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            )
        issue = self.issues[int(m.group(1))]
        if m.group(2) and req.method == "POST":
            self.comments.setdefault(issue["number"], []).append(req.body["body"])
            return 201, headers, {"id": 1, "body": req.body["body"]}
        if not m.group(2) and req.method == "PATCH":
            body = req.body or {}
            if "state" in body and body["state"] not in ("open", "closed"):
                return (
                    422,
                    headers,
                    {
                        "message": "Validation Failed",
                        "errors": [{"field": "state", "code": "invalid"}],
                    },
                )
            for k in ("title", "body", "state"):
                if k in body:
                    issue[k] = body[k]
            if "labels" in body:
                issue["labels"] = [{"name": n} for n in body["labels"]]
            return 200, headers, issue
        return 404, headers, {"message": "Not Found"}

    def _list(self, req: Request, headers: dict[str, str]) -> Answer:
        wanted = [x for x in req.query.get("labels", "").split(",") if x]
        state = req.query.get("state", "open")
        found = [
            i
            for _, i in sorted(self.issues.items())
            if all(w in {lb["name"] for lb in i["labels"]} for w in wanted)
            and (state == "all" or i["state"] == state)
        ]
        per_page = min(int(req.query.get("per_page", 30)), self.page_size)
        page = int(req.query.get("page", 1))
        chunk = found[(page - 1) * per_page : page * per_page]
        links = []
        last = max(1, -(-len(found) // per_page))
        query = dict(req.query)
        if page < last:
            links.append(
                f'<{self.url}{req.path}?{urlencode({**query, "page": page + 1})}>; rel="next"'
            )
            links.append(f'<{self.url}{req.path}?{urlencode({**query, "page": last})}>; rel="last"')
        if links:
            headers = {**headers, "Link": ", ".join(links)}
        return 200, headers, chunk

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if "pull_request" not in i]


# ------------------------------------------------------------------------------ receivers


class WebhookReceiver(FakeService):
    """Accepts JSON posts (a generic webhook, Slack, Teams), and checks meshward's HMAC."""

    def __init__(self, *, secret: str | None = None, status: int = 200) -> None:
        super().__init__()
        self.secret = secret
        self.status = status
        self.verified: list[bool] = []

    def handle(self, req: Request) -> Answer:
        if self.secret is not None:
            ts = req.headers.get("X-Meshward-Timestamp", "")
            expected = (
                "sha256=" + hmac.new(self.secret.encode(), req.raw, hashlib.sha256).hexdigest()
            )
            given = req.headers.get("X-Meshward-Signature", "")
            body_ts = str(req.body.get("timestamp")) if isinstance(req.body, dict) else ""
            ok = hmac.compare_digest(expected, given) and ts == body_ts
            self.verified.append(ok)
            if not ok:
                return 401, {}, {"error": "bad signature"}
        return self.status, {"Content-Type": "text/plain"}, b"ok"


def basic(user: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class FakeSmtp:
    """A small SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
    that smtplib talks to, recording each message; it never offers STARTTLS."""

    port: int = field(default_factory=_free_port)
    mails: list[Mail] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def start(self) -> FakeSmtp:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(5)
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._running = False
        self._sock.close()

    def _accept(self) -> None:
        while self._running:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        f = conn.makefile("rwb")

        def say(line: str) -> None:
            f.write(line.encode() + b"\r\n")
            f.flush()

        say("220 fake.smtp ESMTP ready")
        sender, rcpts = "", []
        while True:
            line = f.readline()
            if not line:
                break
            cmd = line.decode().strip()
            self.commands.append(cmd.split(" ", 1)[0].upper())
            upper = cmd.upper()
            if upper.startswith(("EHLO", "HELO")):
                say("250-fake.smtp\r\n250-8BITMIME\r\n250 SIZE 1000000")
            elif upper.startswith("MAIL FROM:"):
                sender, rcpts = cmd[10:].strip().strip("<>").split(">")[0], []
                say("250 OK")
            elif upper.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip().strip("<>"))
                say("250 OK")
            elif upper == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    chunk = f.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.mails.append(Mail(sender, rcpts, data))
                say("250 OK queued")
            elif upper in ("RSET", "NOOP"):
                say("250 OK")
            elif upper == "QUIT":
                say("221 Bye")
                break
            else:
                say("502 Command not implemented")
        conn.close()
