"""Browser sessions: an API key traded for a signed cookie, and the CSRF token that goes with it.

The cookie holds no secret of the key, only ``{key id, expiry, nonce}`` signed with HMAC-SHA256
under the server's secret (``MITSUMORI_SECRET_KEY``, or a random one kept in
``$DATA_DIR/secret_key``, mode 0600, so every worker and host sharing the data directory agrees).
Every request re-reads the key row, so revoking a key ends its browser sessions at once.

CSRF: each session has a token, ``HMAC(secret, "csrf:" + nonce)``, which the page receives in a
``<meta>`` tag and sends back in the ``X-CSRF-Token`` header of every unsafe request. A cross-site
page can make the browser send the cookie but cannot read the token (same-origin policy, CORS
closed), so its forged requests are refused. The cookie is also ``SameSite=Strict``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from sqlmodel import Session

from platform_api.errors import Forbidden, Unauthorized
from platform_api.security import Principal, authenticate_key_id
from platform_api.settings import Settings

SESSION_COOKIE = "mitsumori_session"
LOGIN_COOKIE = "mitsumori_login"  # double-submit token of the sign-in form (no session yet)
CSRF_HEADER = "X-CSRF-Token"
SESSION_SECONDS = 12 * 3600  # a working day; sign in again after
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_FILE = "secret_key"

_secret_lock = threading.Lock()
_secret_cache: dict[Path, bytes] = {}


@dataclass(frozen=True)
class WebSession:
    """A verified session cookie: the API key it stands for, its expiry (Unix s) and nonce."""

    key_id: str
    expires: float
    nonce: str


def secret_key(settings: Settings) -> bytes:
    """The signing secret: the configured one, else the data directory's file (made once).

    The file is created with ``O_EXCL`` and mode 0600, so two processes starting together end up
    with the same secret (the loser of the race reads the winner's file).
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / SECRET_FILE
    with _secret_lock:
        cached = _secret_cache.get(path)
        if cached is not None:
            return cached
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            value = b""
            for _ in range(50):  # the creator may not have written it yet
                value = path.read_bytes().strip()
                if value:
                    break
                time.sleep(0.01)
            if len(value) < 32:
                raise RuntimeError(
                    f"{path} holds no usable secret; delete it to make a new one"
                ) from None
        else:
            value = secrets.token_urlsafe(48).encode()
            with os.fdopen(fd, "wb") as fh:
                fh.write(value + b"\n")
        _secret_cache[path] = value
        return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, b"session:" + payload.encode(), hashlib.sha256).digest())


def encode_session(secret: bytes, key_id: str, *, now: float | None = None) -> str:
    """A signed cookie value for ``key_id`` valid for ``SESSION_SECONDS``."""
    now = time.time() if now is None else now
    body = {"k": key_id, "e": int(now + SESSION_SECONDS), "n": secrets.token_urlsafe(16)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def decode_session(secret: bytes, value: str, *, now: float | None = None) -> WebSession | None:
    """The session in a cookie value, or None if it is forged, malformed or expired."""
    payload, _, signature = value.partition(".")
    if not payload or not signature or len(value) > 512:
        return None
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        return None
    try:
        body = json.loads(_unb64(payload))
        session = WebSession(key_id=str(body["k"]), expires=float(body["e"]), nonce=str(body["n"]))
    except (ValueError, KeyError, TypeError):
        return None
    now = time.time() if now is None else now
    return session if session.expires > now else None


def csrf_token(secret: bytes, session: WebSession) -> str:
    """The session's CSRF token (derived, so nothing is stored server-side)."""
    return _b64(hmac.new(secret, b"csrf:" + session.nonce.encode(), hashlib.sha256).digest())


def login_token_ok(request: Request, form_token: str | None) -> bool:
    """Double-submit check of the sign-in form: the hidden field equals the login cookie."""
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    return bool(cookie and form_token) and hmac.compare_digest(cookie, form_token or "")


def is_https(request: Request) -> bool:
    """Whether the browser talks HTTPS to us (directly, or through a proxy that says so)."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip().lower() == "https"


def _same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin (Origin header)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not sent by every browser on same-origin requests; the token still guards
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def session_from_request(request: Request, settings: Settings) -> WebSession | None:
    """The verified session of the request's cookie, or None."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    return decode_session(secret_key(settings), value)


def principal_from_cookie(session: Session, request: Request, settings: Settings) -> Principal:
    """Authenticate a browser request by its session cookie (and CSRF token when unsafe).

    Raises ``Unauthorized`` for a missing, forged or expired cookie, or a revoked key, and
    ``Forbidden`` for an unsafe method without the session's CSRF token or from another origin.
    """
    web = session_from_request(request, settings)
    if web is None:
        raise Unauthorized("your session has expired or is invalid: sign in again at /app/login")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = csrf_token(secret_key(settings), web)
        if not sent or not hmac.compare_digest(sent, expected) or not _same_origin(request):
            raise Forbidden(
                f"missing or wrong CSRF token: browser requests that change data must send the "
                f"{CSRF_HEADER} header of the page",
                detail={"reason": "csrf"},
            )
    return authenticate_key_id(session, web.key_id)
