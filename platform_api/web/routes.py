"""The web app's pages under ``/app``: sign-in, sign-out, and the single-page shell.

Pages are plain HTML rendered here (the sign-in form works without JavaScript); everything
after sign-in is ES modules in ``static/js`` that call the ``/v1`` API with the session cookie.
``install_web(app)`` adds these routes, the static files and the part-mesh route to the app.
"""

from __future__ import annotations

import html
import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote as urlquote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from platform_api.context import AppContext
from platform_api.deps import ContextDep
from platform_api.errors import Unauthorized
from platform_api.security import authenticate, authenticate_key_id
from platform_api.web import mesh
from platform_api.web.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    csrf_token,
    encode_session,
    is_https,
    login_token_ok,
    secret_key,
    session_from_request,
)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
LANGS = ("en", "ja")
LANG_COOKIE = "mitsumori_lang"
# Client-side views; each is the same shell, the script picks the view from the path.
VIEWS = ("quote", "rfqs", "inbox", "performance", "model", "machines")

router = APIRouter(prefix="/app", include_in_schema=False)


@lru_cache(maxsize=4)
def strings(lang: str) -> dict[str, str]:
    """The UI strings of ``lang`` (the same JSON files the browser loads)."""
    path = STATIC_DIR / "i18n" / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def pick_lang(request: Request) -> str:
    """The user's language: the switch's cookie, else the best of Accept-Language, else en."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGS and q > 0:
            ranked.append((-q, i, base))
    return min(ranked)[2] if ranked else "en"


def _security_headers(response: Response, nonce: str | None = None) -> Response:
    script = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src {script}; style-src 'self'; img-src 'self' data: blob:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_next(target: str | None) -> str:
    """Only a path inside the app (never another site: no open redirect)."""
    if target and target.startswith("/app") and not target.startswith("//") and "\\" not in target:
        return target
    return "/app"


def _login_page(lang: str, *, token: str, next_url: str, error: str | None) -> str:
    s = strings(lang)
    e = html.escape
    other = "ja" if lang == "en" else "en"
    other_name = strings(other)["lang.name"]
    error_html = f'<p class="error" role="alert" id="login-error">{e(error)}</p>' if error else ""
    described = (
        ' aria-describedby="login-error key-help"' if error else ' aria-describedby="key-help"'
    )
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(s["login.title"])} · Mitsumori</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app/static/vendor/fonts/fonts.css">
<link rel="stylesheet" href="/app/static/css/app.css">
</head>
<body class="login-page">
<main id="main" class="login">
<h1><span class="brand">Mitsumori</span> <span class="brand-ja" lang="ja">見積</span></h1>
<p class="tagline">{e(s["login.tagline"])}</p>
<form method="post" action="/app/login" class="card">
<h2>{e(s["login.title"])}</h2>
{error_html}
<input type="hidden" name="csrf" value="{e(token)}">
<input type="hidden" name="next" value="{e(next_url)}">
<label for="api_key">{e(s["login.key"])}</label>
<input id="api_key" name="api_key" type="password" autocomplete="off" required
 spellcheck="false" placeholder="mk_..." aria-describedby="{described}">
<p class="help" id="key-help">{e(s["login.help"])}</p>
<button type="submit" class="primary">{e(s["login.submit"])}</button>
</form>
<p><a href="/app/lang/{other}?next=/app/login" lang="{other}">{e(other_name)}</a></p>
</main>
</body>
</html>"""


def _shell(lang: str, *, csrf: str, nonce: str) -> str:
    s = strings(lang)
    e = html.escape
    importmap = json.dumps(
        {
            "imports": {
                "three": "/app/static/vendor/three/three.module.js",
                "three/addons/": "/app/static/vendor/three/addons/",
            }
        }
    )
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{e(csrf)}">
<title>Mitsumori</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app/static/vendor/fonts/fonts.css">
<link rel="stylesheet" href="/app/static/css/app.css">
<script type="importmap" nonce="{nonce}">{importmap}</script>
<script type="module" src="/app/static/js/app.js"></script>
</head>
<body>
<a class="skip" href="#main">{e(s["nav.skip"])}</a>
<header class="top">
<a class="brand" href="/app">Mitsumori <span lang="ja">見積</span></a>
<nav id="nav" aria-label="{e(s["nav.label"])}"></nav>
<div class="who" id="who"></div>
<button type="button" id="lang-switch" class="link"></button>
<form method="post" action="/app/logout" class="logout">
<input type="hidden" name="csrf" value="{e(csrf)}">
<button type="submit" class="link">{e(s["nav.logout"])}</button>
</form>
</header>
<main id="main" tabindex="-1"><p class="loading">{e(s["common.loading"])}</p></main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
<noscript><p>{e(s["common.noscript"])}</p></noscript>
</body>
</html>"""


def _redirect_to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/app/login?next={urlquote(target, safe='')}", status_code=303)


def _shell_response(request: Request, ctx: AppContext) -> Response:
    web = session_from_request(request, ctx.settings)
    if web is None:
        return _redirect_to_login(request)
    try:  # a revoked key ends the session at once, pages included
        with ctx.db.session() as session:
            authenticate_key_id(session, web.key_id)
    except Unauthorized:
        return _redirect_to_login(request)
    nonce = secrets.token_urlsafe(16)
    body = _shell(pick_lang(request), csrf=csrf_token(secret_key(ctx.settings), web), nonce=nonce)
    return _security_headers(HTMLResponse(body), nonce)


@router.get("")
def app_home(request: Request, ctx: ContextDep) -> Response:
    """The app (the script sends a buyer to the quote page and a shop to its inbox)."""
    return _shell_response(request, ctx)


@router.get("/login")
def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:
    """The sign-in form: paste an API key."""
    token = secrets.token_urlsafe(24)
    lang = pick_lang(request)
    message = strings(lang).get(f"login.error.{error}") if error else None
    response = HTMLResponse(
        _login_page(lang, token=token, next_url=_safe_next(next), error=message)
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/app",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return _security_headers(response)


@router.post("/login")
def login(
    request: Request,
    ctx: ContextDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/app",
) -> Response:
    """Trade an API key for a session cookie (the key itself is never stored in the browser)."""
    lang = pick_lang(request)
    if not login_token_ok(request, csrf):
        return _relogin(request, lang, "csrf", next, status=403)
    try:
        with ctx.db.session() as session:
            principal = authenticate(session, f"Bearer {api_key.strip()}")
    except Unauthorized:
        return _relogin(request, lang, "invalid", next, status=401)
    if principal.role == "admin":
        return _relogin(request, lang, "admin", next, status=403)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(secret_key(ctx.settings), principal.key_id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/app")
    return response


def _relogin(request: Request, lang: str, error: str, next_url: str, *, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    page = _login_page(
        lang,
        token=token,
        next_url=_safe_next(next_url),
        error=strings(lang)[f"login.error.{error}"],
    )
    response = HTMLResponse(page, status_code=status)
    response.set_cookie(
        LOGIN_COOKIE, token, max_age=3600, path="/app", httponly=True, samesite="strict",
        secure=is_https(request),
    )  # fmt: skip
    return _security_headers(response)


@router.post("/logout")
def logout(
    request: Request, ctx: ContextDep, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """End the browser session (the form carries the session's CSRF token)."""
    web = session_from_request(request, ctx.settings)
    if web is not None and not secrets.compare_digest(
        csrf, csrf_token(secret_key(ctx.settings), web)
    ):
        return JSONResponse(
            {"error": "forbidden", "message": "missing or wrong CSRF token", "detail": {}},
            status_code=403,
        )
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request, next: str | None = None) -> Response:
    """Remember the chosen language (a plain cookie; it holds nothing secret)."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, path="/app", samesite="lax",
            secure=is_https(request),
        )  # fmt: skip
    return response


@router.get("/catalog.json")
def catalog() -> JSONResponse:
    """Materials, finishes and tolerance classes for the spec form (public catalog data)."""
    return JSONResponse(_catalog_body(), headers={"Cache-Control": "max-age=3600"})


@lru_cache(maxsize=1)
def _catalog_body() -> dict[str, Any]:
    from quote.catalogs import load_catalog

    cat = load_catalog()
    tol = cat.tolerances
    return {
        "materials": [
            {"name": m.name, "family": m.family, "description": m.description}
            for m in cat.materials
        ],
        "finishes": [
            {
                "name": f.name,
                "description": f.description,
                "families": list(f.families),
                "added_days": f.added_days,
            }
            for f in cat.finishes
        ],
        "tolerances": {
            "classes": [f"ISO2768-{c}" for c in tol.classes],
            "default": tol.default_label,
            "explicit_min_mm": tol.explicit_min_mm,
            "explicit_max_mm": tol.explicit_max_mm,
        },
    }


@router.get("/{view}")
def app_view(view: str, request: Request, ctx: ContextDep) -> Response:
    """A view of the app (same shell; the script renders the view)."""
    if view not in VIEWS:
        return JSONResponse(
            {"error": "not_found", "message": f"no page /app/{view}", "detail": {}},
            status_code=404,
        )
    return _shell_response(request, ctx)


def install_web(app: FastAPI) -> None:
    """Add the web app (pages, static files, the part-mesh API route) to ``app``."""
    app.include_router(mesh.router)
    app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="web-static")
