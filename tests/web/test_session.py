"""Browser sessions: an API key traded for a signed cookie; CSRF on every unsafe request; the
API's ownership rules unchanged; revocation and expiry honoured. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from platform_api.orgs import service as orgs_service
from platform_api.settings import Settings
from platform_api.web.session import (
    CSRF_HEADER,
    SESSION_COOKIE,
    decode_session,
    encode_session,
    secret_key,
)
from tests.platform_api.factories import Org, make_org, stl_box


@pytest.fixture
def web(client: TestClient) -> Iterator[TestClient]:
    """The app's client with an empty cookie jar before and after (it is shared by the session)."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


def _form_token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def sign_in(c: TestClient, org: Org, *, next_url: str = "/app/quote") -> str:
    """Sign in through the form like a browser; returns the page's CSRF token."""
    page = c.get("/app/login")
    r = c.post(
        "/app/login",
        data={"api_key": org.key, "csrf": _form_token(page.text), "next": next_url},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    assert r.headers["location"] == next_url
    shell = c.get(next_url)
    assert shell.status_code == 200
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', shell.text)
    assert m
    return m.group(1)


def test_sign_in_sets_a_signed_http_only_strict_cookie(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    page = web.get("/app/login")
    r = web.post(
        "/app/login",
        data={"api_key": buyer.key, "csrf": _form_token(page.text), "next": "/app"},
        follow_redirects=False,
        headers={"X-Forwarded-Proto": "https"},
    )
    assert r.status_code == 303
    set_cookie = next(v for v in r.headers.get_list("set-cookie") if SESSION_COOKIE in v)
    attrs = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path"} <= attrs
    assert "samesite=strict" in set_cookie.lower()
    value = web.cookies[SESSION_COOKIE]
    assert buyer.key not in value and buyer.key.split("_")[1] not in value  # no key material
    session = decode_session(secret_key(ctx.settings), value)
    assert session is not None and session.key_id == buyer.key_id


def test_plain_http_cookie_is_not_secure(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    page = web.get("/app/login")
    r = web.post(
        "/app/login",
        data={"api_key": buyer.key, "csrf": _form_token(page.text)},
        follow_redirects=False,
    )
    set_cookie = next(v for v in r.headers.get_list("set-cookie") if SESSION_COOKIE in v)
    assert "secure" not in set_cookie.lower()  # else the browser would drop it on http://127.0.0.1


def test_cookie_reads_but_writes_need_the_csrf_token(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    token = sign_in(web, buyer)
    assert web.get("/v1/me").json()["organization"]["id"] == buyer.id
    files = {"file": ("box.stl", stl_box())}

    refused = web.post("/v1/parts", files=files)
    assert refused.status_code == 403
    assert refused.json()["detail"]["reason"] == "csrf"
    wrong = web.post("/v1/parts", files=files, headers={CSRF_HEADER: token[:-2] + "xx"})
    assert wrong.status_code == 403
    other_site = web.post(
        "/v1/parts", files=files, headers={CSRF_HEADER: token, "Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    ok = web.post(
        "/v1/parts", files=files, headers={CSRF_HEADER: token, "Origin": "http://testserver"}
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["features"]["bbox_mm"] == pytest.approx([40, 30, 10], abs=0.01)


def test_token_of_one_session_does_not_fit_another(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    a, b = make_org(ctx, "buyer"), make_org(ctx, "buyer")
    token_a = sign_in(web, a)
    web.cookies.clear()
    sign_in(web, b)
    r = web.post("/v1/quotes", json={}, headers={CSRF_HEADER: token_a})
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "csrf"


def test_cookie_sessions_keep_the_api_ownership_rules(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    owner, other = make_org(ctx, "buyer"), make_org(ctx, "buyer")
    part = web.post("/v1/parts", files={"file": ("b.stl", stl_box())}, headers=owner.headers)
    assert part.status_code == 201
    part_id = part.json()["id"]
    token = sign_in(web, other)
    assert web.get(f"/v1/parts/{part_id}").status_code == 404  # another company's row
    assert web.get(f"/v1/parts/{part_id}/mesh").status_code == 404
    denied = web.post(
        "/v1/machines",
        json={
            "name": "VF-2",
            "machine_type": "3-axis",
            "axes": 3,
            "envelope_mm": {"x": 762, "y": 406, "z": 508},
            "hourly_rate_jpy": 6500,
        },
        headers={CSRF_HEADER: token},
    )
    assert denied.status_code == 403  # a buyer may not declare machines, cookie or not


def test_revoked_key_ends_its_browser_session(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    sign_in(web, buyer)
    assert web.get("/v1/me").status_code == 200
    with ctx.db.session() as session:
        orgs_service.revoke_key(session=session, key_id=buyer.key_id)
    assert web.get("/v1/me").status_code == 401
    assert web.get("/v1/parts").status_code == 401
    assert web.get("/app/quote", follow_redirects=False).status_code == 303  # to sign-in


def test_forged_and_expired_cookies_are_refused(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    secret = secret_key(ctx.settings)
    good = encode_session(secret, buyer.key_id)
    payload, sig = good.split(".")
    web.cookies.set(SESSION_COOKIE, f"{payload}.{sig[:-3]}abc")
    assert web.get("/v1/me").status_code == 401
    web.cookies.set(SESSION_COOKIE, encode_session(b"another-secret" * 4, buyer.key_id))
    assert web.get("/v1/me").status_code == 401
    web.cookies.set(SESSION_COOKIE, encode_session(secret, buyer.key_id, now=0.0))  # 1970
    assert web.get("/v1/me").status_code == 401
    assert web.get("/app/quote", follow_redirects=False).status_code == 303
    web.cookies.set(SESSION_COOKIE, good)
    assert web.get("/v1/me").status_code == 200


def test_bearer_header_wins_over_a_cookie(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer, shop = make_org(ctx, "buyer"), make_org(ctx, "shop")
    sign_in(web, buyer)
    me = web.get("/v1/me", headers=shop.headers).json()
    assert me["organization"]["id"] == shop.id
    # An API client never needs a CSRF token.
    r = web.post("/v1/parts", files={"file": ("b.stl", stl_box())}, headers=shop.headers)
    assert r.status_code == 201


def test_sign_in_refuses_bad_keys_admin_keys_and_forged_forms(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    admin = make_org(ctx, "admin")
    page = web.get("/app/login")
    token = _form_token(page.text)
    bad = web.post("/app/login", data={"api_key": "mk_nope", "csrf": token})
    assert bad.status_code == 401 and 'role="alert"' in bad.text
    assert SESSION_COOKIE not in web.cookies
    forged = web.post("/app/login", data={"api_key": admin.key, "csrf": "not-the-cookie"})
    assert forged.status_code == 403 and SESSION_COOKIE not in web.cookies
    token = _form_token(web.get("/app/login").text)
    as_admin = web.post("/app/login", data={"api_key": admin.key, "csrf": token})
    assert as_admin.status_code == 403 and SESSION_COOKIE not in web.cookies


def test_redirects_stay_inside_the_app(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    r = web.get("/app/rfqs?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login?next=")
    page = web.get("/app/login")
    for target in ("//evil.example/app", "https://evil.example", "/v1/me", "/app\\@evil"):
        token = _form_token(page.text)
        r = web.post(
            "/app/login",
            data={"api_key": buyer.key, "csrf": token, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/app", target
        page = web.get("/app/login")


def test_sign_out_needs_the_token_and_clears_the_cookie(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    token = sign_in(web, buyer)
    assert web.post("/app/logout", data={"csrf": "wrong"}).status_code == 403
    assert web.get("/v1/me").status_code == 200
    r = web.post("/app/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert SESSION_COOKIE not in web.cookies
    assert web.get("/v1/me").status_code == 401


def test_pages_carry_a_strict_content_security_policy(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    buyer = make_org(ctx, "buyer")
    sign_in(web, buyer)
    shell = web.get("/app/quote")
    csp = shell.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'<script type="importmap" nonce="{nonce.group(1)}">' in shell.text
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no other origin is allowed for anything
    assert shell.headers["x-frame-options"] == "DENY"
    # Every asset the shell names is on this server.
    for url in re.findall(r'(?:href|src)="([^"]+)"', shell.text):
        assert url.startswith(("/app", "#")) or url == "data:,", url
    assert web.get("/app/nothing-here").status_code == 404


def test_language_follows_the_browser_then_the_switch(web: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    ja = web.get("/app/login", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"})
    assert '<html lang="ja">' in ja.text and "サインイン" in ja.text
    en = web.get("/app/login", headers={"Accept-Language": "fr-FR, en;q=0.5, ja;q=0.4"})
    assert '<html lang="en">' in en.text
    web.get("/app/lang/ja?next=/app/login", follow_redirects=False)
    chosen = web.get("/app/login", headers={"Accept-Language": "en"})
    assert '<html lang="ja">' in chosen.text


def test_secret_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = secret_key(settings)
    path = tmp_path / "d" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    # Another process (no in-memory cache) reads the same file.
    from platform_api.web import session as session_mod

    session_mod._secret_cache.clear()
    assert secret_key(settings) == first
    configured = Settings(data_dir=tmp_path / "e", secret_key="x" * 40)
    assert secret_key(configured) == b"x" * 40
    assert not (tmp_path / "e" / "secret_key").exists()
    with pytest.raises(ValueError, match="MITSUMORI_SECRET_KEY"):
        Settings(data_dir=tmp_path, secret_key="changeme")
