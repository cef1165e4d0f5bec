"""Channel senders: a generic signed webhook, Slack and Microsoft Teams incoming webhooks, and
email over SMTP. Each takes a :class:`Message` and an admin-configured destination, checks the
destination (no metadata or link-local addresses; loopback only when allowed), and returns
the response code or raises :class:`DeliveryError`.

The generic webhook signs the exact body it sends: ``X-Meshward-Signature: sha256=<hex
HMAC-SHA256(secret, body)>``. The body carries the same ``timestamp`` as the
``X-Meshward-Timestamp`` header, so the signature covers it and a receiver refuses replays by
checking the time is recent."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import orjson

from meshward.errors import MeshwardError
from meshward.integrations.http import retry_after_seconds
from meshward.integrations.safety import check_host, check_url

TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Meshward-Signature"
TIMESTAMP_HEADER = "X-Meshward-Timestamp"


@dataclass(frozen=True)
class Message:
    event: str
    """critical_finding, kev, control_failed, kb_update, digest."""
    key: str
    title: str
    text: str
    severity: str | None = None
    url: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "key": self.key,
            "title": self.title,
            "text": self.text,
            "severity": self.severity,
            "url": self.url,
            "facts": [list(f) for f in self.facts],
            "data": self.data,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Message:
        return cls(
            event=data["event"],
            key=data["key"],
            title=data["title"],
            text=data["text"],
            severity=data.get("severity"),
            url=data.get("url"),
            facts=tuple((str(a), str(b)) for a, b in data.get("facts", [])),
            data=dict(data.get("data") or {}),
        )


class DeliveryError(MeshwardError):
    """``permanent``: the destination refused for good (an HTTP 4xx other than 408/429, an
    SMTP 5xx); retrying would only repeat it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        if permanent is None:
            permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
        self.permanent = permanent


# ------------------------------------------------------------------------------ payloads


def webhook_body(message: Message, timestamp: int, team: str | None) -> bytes:
    return orjson.dumps({**message.to_data(), "team": team, "timestamp": timestamp})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_payload(message: Message, channel: str | None) -> dict[str, Any]:
    """Block Kit for Slack incoming webhooks; ``text`` is the notification fallback."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:3000]}},
    ]
    if message.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in message.facts[:10]
                ],
            }
        )
    if message.url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in meshward"},
                        "url": message.url,
                    }
                ],
            }
        )
    payload: dict[str, Any] = {"text": f"{message.title}: {message.text}"[:3000], "blocks": blocks}
    if channel:
        payload["channel"] = channel
    return payload


def teams_payload(message: Message) -> dict[str, Any]:
    """An Adaptive Card in a message, as Teams incoming webhooks (and Workflows) take it."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": message.text, "wrap": True},
    ]
    if message.facts:
        body.append(
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in message.facts]}
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in meshward", "url": message.url}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def email_message(message: Message, sender: str, recipients: list[str]) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"[meshward] {message.title}"
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    lines = [message.text, ""]
    lines += [f"{k}: {v}" for k, v in message.facts]
    if message.url:
        lines += ["", message.url]
    mail.set_content("\n".join(lines) + "\n")
    return mail


# ------------------------------------------------------------------------------ sending


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    transport: httpx.BaseTransport | None = None,
) -> int:
    check_url(url, allow_private=allow_private)
    try:
        with httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False) as client:
            response = client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"unreachable: {type(exc).__name__}: {exc}") from exc
    if 200 <= response.status_code < 300:
        return response.status_code
    raise DeliveryError(
        f"{response.status_code} {response.text[:200].strip()}",
        status=response.status_code,
        retry_after=retry_after_seconds(response.headers.get("retry-after"), time.time()),
    )


def send_webhook(
    url: str,
    secret: str | None,
    message: Message,
    team: str | None,
    *,
    allow_private: bool,
    transport: httpx.BaseTransport | None = None,
    clock: Any = time.time,
) -> int:
    timestamp = int(clock())
    body = webhook_body(message, timestamp, team)
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        "X-Meshward-Event": message.event,
        "User-Agent": "meshward",
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return post_json(url, body, headers, allow_private=allow_private, transport=transport)


def send_email(
    settings: dict[str, Any],
    password: str | None,
    message: Message,
    recipients: list[str],
    *,
    allow_private: bool,
) -> int:
    """SMTP with STARTTLS whenever the server offers it (required when ``starttls`` is
    ``require``); login only after TLS unless the server is loopback."""
    host = str(settings.get("host") or "")
    port = int(settings.get("port") or 587)
    check_host(host, allow_private=allow_private)
    sender = str(settings.get("sender") or "meshward@localhost")
    mode = str(settings.get("starttls") or "auto")
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            tls = False
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
                tls = True
            elif mode == "require":
                raise DeliveryError(f"{host} does not offer STARTTLS (required)", permanent=True)
            if settings.get("username") and password:
                if not tls and not allow_private:
                    raise DeliveryError(
                        "refusing to send an SMTP password without TLS", permanent=True
                    )
                smtp.login(str(settings["username"]), password)
            refused = smtp.send_message(email_message(message, sender, recipients))
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP {exc.smtp_code} {exc.smtp_error!r}",
            status=exc.smtp_code,
            permanent=exc.smtp_code >= 500,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from exc
    if refused:
        raise DeliveryError(f"SMTP refused recipients: {', '.join(sorted(refused))}")
    return 250
