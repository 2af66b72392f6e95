"""FastAPI dependencies as ``Annotated`` aliases: ``SessionDep``, ``PrincipalDep``, ``ContextDep``.

FastAPI evaluates these annotations at start-up, so every name in them is imported for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from platform_api.context import AppContext
from platform_api.security import Principal, authenticate, take_token
from platform_api.web.session import SESSION_COOKIE, principal_from_cookie


def get_context(request: Request) -> AppContext:
    """The lifespan's state (settings, database, analyser, model store, metrics)."""
    return request.app.state.ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_session(ctx: ContextDep) -> Iterator[Session]:
    """The request's unit of work: committed when the route returns, rolled back if it raises."""
    session = ctx.db.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a 201 means the row is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# auto_error=False: a missing key must answer with our JSON 401, not FastAPI's default 403.
_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer mk_...`")


def get_principal(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Authenticate the key and spend one token of its rate limit, in a transaction of its own.

    Its own transaction: a request refused later (bad input, 404) still counts against the
    limit, and last-used is recorded even when the request's own work rolls back.
    """
    header = request.headers.get("authorization")
    with ctx.db.session() as session:
        if header is None and SESSION_COOKIE in request.cookies:
            # The web app: a signed session cookie, plus its CSRF token on unsafe methods.
            principal = principal_from_cookie(session, request, ctx.settings)
        else:
            principal = authenticate(session, header)
        take_token(
            session,
            principal.key_id,
            per_minute=ctx.settings.rate_limit_per_minute,
            burst=ctx.settings.rate_limit_burst,
        )
    request.state.org_id = principal.org_id  # for the access log (never the key itself)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
