"""Quote a stored part with the right model, store the quote, record outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from platform_api.db.models import Quote, QuoteOutcome
from platform_api.db.types import utcnow
from platform_api.errors import Forbidden, InvalidRequest, NotFound
from platform_api.ids import new_id
from platform_api.metrics import Metrics
from platform_api.orgs import repository as orgs_repository
from platform_api.parts import service as parts_service
from platform_api.quotes import repository
from platform_api.quotes.schemas import OutcomeCreate, OutcomePublic, QuoteCreate, QuotePublic
from platform_api.security import Principal
from platform_api.shops.model_store import ModelStore
from quote.analysis import analysis_from_dict
from quote.catalogs import load_catalog, resolve_material
from quote.contract import Quote as EngineQuote
from quote.engine import QuoteRequest, quote_analysis
from quote.errors import QuoteContractError
from quote.types import as_jsonable


def to_public(q: Quote, outcome: QuoteOutcome | None = None) -> QuotePublic:
    """Row to response: the engine's JSON (as stored) with the platform's fields on top.

    Raises ``QuoteContractError`` (500, typed) for a stored quote that does not fit the contract.
    """
    try:
        return QuotePublic.model_validate(
            {
                **q.result,
                "id": q.id,
                "part_id": q.part_id,
                "status": q.status,
                "requester_id": q.requester_org_id,
                "shop_id": q.shop_org_id,
                "created_at": q.created_at,
                "inputs": q.inputs,
                "outcome": OutcomePublic.model_validate(outcome) if outcome else None,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise QuoteContractError(
            f"stored quote {q.id} does not fit the quote contract: {where}: {first['msg']}",
            detail={"quote_id": q.id, "field": where},
        ) from None


def row_of(
    quote: EngineQuote,
    *,
    part_id: str,
    requester_org_id: str,
    shop_org_id: str | None,
    inputs: dict[str, Any],
    unit_price: float | None = None,
    **extra: Any,
) -> Quote:
    """The row that stores ``quote`` (its JSON as the engine's mapper writes it); ``unit_price``
    overrides the engine's for the row's own columns (a shop's offer)."""
    unit = quote.unit_price if unit_price is None else unit_price
    return Quote(
        id=new_id("quo"),
        part_id=part_id,
        requester_org_id=requester_org_id,
        shop_org_id=shop_org_id,
        material=quote.material,
        quantity=quote.quantity,
        inputs=inputs,
        result=as_jsonable(quote),
        model_name=quote.model.name,
        model_version=quote.model.version,
        unit_price=unit,
        total_price=quote.total_price if unit_price is None else unit * quote.quantity,
        currency=quote.currency,
        **extra,
    )


def _pricing_shop(session: Session, principal: Principal, shop: str | None) -> str | None:
    """Whose model prices: a shop quotes with its own; a buyer with a shop's or the default."""
    if principal.role == "shop":
        if shop not in (None, principal.org_id):
            raise Forbidden(
                "a shop quotes with its own model only; leave 'shop' empty",
                detail={"shop": shop},
            )
        return principal.org_id
    if shop is None:
        return None
    if orgs_repository.get_org_of_kind(session, shop, "shop") is None:
        raise NotFound(f"no shop {shop}; see GET /v1/shops", detail={"shop": shop})
    return shop


def create(
    *,
    session: Session,
    models: ModelStore,
    metrics: Metrics,
    principal: Principal,
    body: QuoteCreate,
    today: date | None = None,
) -> Quote:
    """Quote the caller's part ``body.part_id`` and store the quote (never re-parses the file)."""
    part = parts_service.get(session=session, org_id=principal.org_id, part_id=body.part_id)
    shop_org_id = _pricing_shop(session, principal, body.shop)
    model, _row_id = models.for_shop(session, shop_org_id)
    quantities = list(body.quantities or [])
    quantity = body.quantity if body.quantity is not None else quantities[0]
    request = QuoteRequest(
        material=body.material,
        quantity=quantity,
        tolerance=body.tolerance,
        finish=body.finish,
        roughness_ra_um=body.roughness_ra_um,
        due_date=body.due_date,
        quantities=tuple(quantities) or None,
    )
    quote = quote_analysis(analysis_from_dict(part.analysis), request, model=model, today=today)
    q = row_of(
        quote,
        part_id=part.id,
        requester_org_id=principal.org_id,
        shop_org_id=shop_org_id,
        inputs=body.model_dump(mode="json", exclude_none=True),
    )
    session.add(q)
    session.flush()
    metrics.quotes.labels(model="shop" if quote.model.shop else "default").inc()
    return q


def get(*, session: Session, principal: Principal, quote_id: str) -> tuple[Quote, Any]:
    """A quote the caller requested or priced, with its latest outcome; else ``NotFound``."""
    q = repository.get_visible(session, org_id=principal.org_id, quote_id=quote_id)
    if q is None:
        raise NotFound(f"no quote {quote_id} (or it is not yours)", detail={"quote_id": quote_id})
    return q, repository.latest_outcomes(session, [q.id]).get(q.id)


def _as_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A date filter as a UTC instant (a date ``created_to`` includes that whole day)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    day = datetime.combine(value, time.min, tzinfo=UTC)
    return day + timedelta(days=1) if end else day


def list_(
    *,
    session: Session,
    principal: Principal,
    shop: str | None,
    material: str | None,
    status: str | None,
    part_id: str | None,
    created_from: date | datetime | None,
    created_to: date | datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Quote], str | None]:
    """Quotes the caller requested or priced, newest first, filtered."""
    if material is not None:
        material = resolve_material(load_catalog(), material).name
    lo = _as_bound(created_from, end=False)
    hi = _as_bound(created_to, end=True)
    if lo is not None and hi is not None and lo >= hi:
        raise InvalidRequest(
            "created_from must be before created_to",
            detail={"created_from": str(created_from), "created_to": str(created_to)},
        )
    return repository.list_visible(
        session,
        org_id=principal.org_id,
        shop_id=shop,
        material=material,
        status=status,
        part_id=part_id,
        created_from=lo,
        created_to=hi,
        cursor=cursor,
        limit=limit,
    )


def record_outcome(
    *, session: Session, principal: Principal, quote_id: str, body: OutcomeCreate
) -> tuple[Quote, QuoteOutcome]:
    """Record what became of a quote the calling shop priced; the quote takes its status."""
    q = repository.get_visible(session, org_id=principal.org_id, quote_id=quote_id)
    if q is None or q.shop_org_id != principal.org_id:
        raise NotFound(f"no quote {quote_id} priced by you", detail={"quote_id": quote_id})
    outcome = QuoteOutcome(
        id=new_id("out"), quote_id=q.id, recorded_by_org_id=principal.org_id, **body.model_dump()
    )
    q.status = body.status
    q.updated_at = utcnow()
    session.add(outcome)
    session.add(q)
    session.flush()
    return q, outcome
