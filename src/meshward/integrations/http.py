"""One HTTP client for trackers: the configured base URL only (checked once, no redirects
followed), errors turned into :class:`TrackerError` with the tracker's own message, and rate
limits honoured — ``Retry-After``, ``X-RateLimit-Remaining: 0`` until ``X-RateLimit-Reset``,
and GitHub's secondary limits (403 that says so)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from meshward.integrations.interface import TrackerError
from meshward.integrations.safety import check_url

SECONDARY_LIMIT_WAIT = 60.0
"""GitHub: after a secondary rate limit without ``Retry-After``, wait at least a minute."""
DEFAULT_TIMEOUT = 15.0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def error_text(response: httpx.Response) -> str:
    """The tracker's explanation: Jira's ``errorMessages``/``errors``, GitHub's ``message``
    (and ``errors``), else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    parts: list[str] = []
    if isinstance(data, dict):
        parts += [str(m) for m in data.get("errorMessages") or []]
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
        elif isinstance(errors, list):
            parts += [str(e.get("message") or e) if isinstance(e, dict) else str(e) for e in errors]
        if data.get("message"):
            parts.insert(0, str(data["message"]))
    return "; ".join(parts)[:500] or response.reason_phrase


class HttpClient:
    def __init__(
        self,
        service: str,
        base_url: str,
        headers: dict[str, str],
        *,
        allow_private: bool,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.service = service
        check_url(base_url, allow_private=allow_private)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
        )
        self._clock = clock
        self.blocked_until = 0.0

    def same_origin(self, url: str) -> bool:
        """Whether an absolute URL a tracker handed back (a next page) is on the configured
        origin: nothing else is ever requested."""
        other, base = httpx.URL(url), self._client.base_url
        return (other.scheme, other.host, other.port) == (base.scheme, base.host, base.port)

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: Iterable[int] = (200, 201, 204),
    ) -> httpx.Response:
        now = self._clock()
        if self.blocked_until > now:
            raise TrackerError(
                f"{self.service} rate limit exhausted", retry_after=self.blocked_until - now
            )
        try:
            response = self._client.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise TrackerError(
                f"{self.service} unreachable: {type(exc).__name__}: {exc}", transient=True
            ) from exc
        now = self._clock()
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if remaining == "0" and reset and reset.isdigit():
            self.blocked_until = max(self.blocked_until, float(reset))
        if response.status_code in set(ok):
            return response
        raise self._error(response, now)

    def _error(self, response: httpx.Response, now: float) -> TrackerError:
        status = response.status_code
        text = error_text(response)
        where = f"{self.service} {response.request.method} {response.request.url.path}"
        retry = retry_after_seconds(response.headers.get("retry-after"), now)
        limited = status == 429 or (
            status == 403
            and (
                retry is not None
                or response.headers.get("x-ratelimit-remaining") == "0"
                or "rate limit" in text.lower()
            )
        )
        if limited:
            if retry is None and response.headers.get("x-ratelimit-remaining") == "0":
                retry = max(0.0, self.blocked_until - now)
            if retry is None:
                retry = SECONDARY_LIMIT_WAIT
            self.blocked_until = max(self.blocked_until, now + retry)
            return TrackerError(
                f"{where}: rate limited ({status}): {text}", status=status, retry_after=retry
            )
        return TrackerError(
            f"{where}: {status} {text}",
            status=status,
            transient=status >= 500 or status == 408,
            retry_after=retry if status >= 500 else None,
        )
