"""Signed session cookies and CSRF tokens for the web UI.

A session cookie carries no API token: only the token's prefix and sha256 (enough to check the
token again on every request, useless as a bearer token), a random nonce and when it was
issued, signed with HMAC-SHA256 under ``MESHWARD_SECRET_KEY``. Without that variable a random
key is made per process: sessions then end when the server restarts, and replicas behind one
load balancer do not share them, so set it wherever more than one process serves the UI.

The CSRF token of a form is an HMAC of the session's nonce under the same key (the
synchronizer-token pattern without server state); a visitor who has not signed in gets a
nonce-only cookie, so the sign-in form is protected too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "mw_session"
MAX_AGE = 12 * 3600
"""A session lasts this long whatever happens to its token (seconds)."""
SECRET_ENV = "MESHWARD_SECRET_KEY"  # noqa: S105 (the variable's name, not a secret)


def secret_key() -> bytes:
    """The signing key: ``MESHWARD_SECRET_KEY`` (at least 32 characters), else random."""
    given = os.environ.get(SECRET_ENV, "")
    if given:
        if len(given) < 32:
            raise ValueError(f"{SECRET_ENV} must be at least 32 characters")
        return hashlib.sha256(given.encode()).digest()
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class WebSession:
    nonce: str
    prefix: str | None = None
    digest: str | None = None
    issued: int = 0

    @property
    def signed_in(self) -> bool:
        return self.prefix is not None and self.digest is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def encode(key: bytes, sess: WebSession) -> str:
    payload = _b64(
        orjson.dumps({"n": sess.nonce, "p": sess.prefix, "h": sess.digest, "i": sess.issued})
    )
    return f"{payload}.{_sign(key, payload)}"


def decode(key: bytes, value: str, now: float | None = None) -> WebSession | None:
    """The session a cookie holds; None for a forged, damaged or expired one."""
    payload, _, signature = value.partition(".")
    if not signature or not hmac.compare_digest(_sign(key, payload), signature):
        return None
    try:
        data = orjson.loads(_unb64(payload))
        sess = WebSession(str(data["n"]), data["p"], data["h"], int(data["i"]))
    except (ValueError, KeyError, TypeError):
        return None
    if sess.signed_in and (now or time.time()) - sess.issued > MAX_AGE:
        return None
    return sess


def new_session(prefix: str | None = None, digest: str | None = None) -> WebSession:
    """A fresh nonce each time: signing in (or out) never keeps a nonce an attacker may have
    planted, so a CSRF token from before does not work after."""
    return WebSession(secrets.token_urlsafe(24), prefix, digest, int(time.time()))


def csrf_token(key: bytes, sess: WebSession) -> str:
    return _b64(hmac.new(key, b"csrf|" + sess.nonce.encode(), hashlib.sha256).digest())


def csrf_ok(key: bytes, sess: WebSession | None, given: str | None) -> bool:
    if sess is None or not given:
        return False
    return hmac.compare_digest(csrf_token(key, sess), given)


def read(request: Request) -> WebSession | None:
    value = request.cookies.get(COOKIE)
    key: bytes = request.app.state.web_key
    return decode(key, value) if value else None


def write(request: Request, response: Response, sess: WebSession | None) -> None:
    """Set (or, for None, clear) the cookie: HttpOnly, SameSite=Lax, Secure over TLS."""
    secure = request.url.scheme == "https"
    if sess is None:
        response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
        return
    response.set_cookie(
        COOKIE,
        encode(request.app.state.web_key, sess),
        max_age=MAX_AGE,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
