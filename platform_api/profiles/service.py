"""A shop's capability profile (``matching.profiles``) from what the platform stored about it.

Records folded into the profile, one ``QuoteRecord`` each:

- quotes priced for the shop (``quotes.shop_org_id``): process, size and tolerance from the
  stored quote JSON (``physics.process``, ``features.bbox_mm``, ``tolerance.mm``), the quoted or
  final unit price, status from the quote (quoted/sent = open; won, lost, no bid) and delivery
  from its latest outcome; when the quote answered an RFQ, the RFQ's time and the answer's;
- RFQs the shop declined: a no-bid at the time it answered;
- its imported history rows: open quotes (the CSV carries no outcome) priced as it priced them.

The price level compares each quoted unit price with the platform's default model on the same
part and spec. Those reference prices (and the history rows' process, size and tolerance,
read by quoting them) are computed once per record and kept with the cached profile. Reads never
write: a read serves the cached profile while the fingerprint of its source rows is unchanged,
else builds it from the rows; the cache refresher (``platform_api.caches``) stores the rebuilt
one. So the profile follows every new quote, outcome and RFQ answer, a GET is safe to retry,
and nothing the shop types can change its numbers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session

from matching.profiles import DeclaredMachine, ProfileBuilder, QuoteRecord, ShopProfile
from platform_api.db.models import Machine, Organization, ShopProfileCache
from platform_api.db.types import utcnow
from platform_api.errors import NotFound
from platform_api.machines.service import MATCH_CLASS, typical_tolerance_mm
from platform_api.orgs import repository as orgs_repository
from platform_api.profiles import history, reference, repository
from platform_api.profiles.schemas import ProfilePublic
from platform_api.security import Principal
from platform_api.shops.model_store import ModelStore
from quote.contract import quote_from_json

log = logging.getLogger("mitsumori.profiles")
PROFILE_VERSION = "1"  # bump when the fold changes: every cached profile is rebuilt
_STATUS = {"quoted": "open", "sent": "open", "won": "won", "lost": "lost", "no_bid": "no_bid"}


def declared_machines(machines: list[Machine]) -> tuple[DeclaredMachine, ...]:
    """The shop's matchable machines as the core declares them."""
    out = []
    for m in machines:
        cls = MATCH_CLASS.get(m.machine_type)
        if cls is None:
            continue
        out.append(
            DeclaredMachine(
                machine_id=m.id,
                machine_class=cls,
                envelope_mm=(m.envelope_x_mm, m.envelope_y_mm, m.envelope_z_mm),
                tolerance_mm=m.tolerance_mm or typical_tolerance_mm(m.machine_type),
                hourly_rate_jpy=m.hourly_rate_jpy,
            )
        )
    return tuple(out)


def records_for(
    session: Session,
    *,
    org_id: str,
    models: ModelStore | None,
    cached: dict[str, Any],
    version: str,
) -> tuple[list[QuoteRecord], dict[str, Any], dict[str, int]]:
    """The shop's quote records, the reference prices (cache) and counts by source.

    History rows already read by the default model ``version`` are not among the records:
    they enter the profile as buckets (``platform_api.profiles.history``).
    """
    ref = reference.Reference(models, cached)
    records: list[QuoteRecord | None] = []
    answers = {a.quote_id: (a, r) for a, r in repository.answered_rfqs(session, org_id=org_id)}
    quotes = repository.quotes_with_parts(session, org_id=org_id)
    outcomes = repository.latest_outcomes(session, [q.id for q, _ in quotes])
    counts = {"quotes": 0, "history_rows": 0, "rfq_declines": 0}
    for q, part in quotes:
        result = quote_from_json(q.result)
        process, ext, tol = reference.shape(result)
        out = outcomes.get(q.id)
        status = _STATUS.get(q.status, "open")
        unit = out.final_unit_price if out is not None and out.final_unit_price else q.unit_price
        if result.model.shop is None:
            default_price: float | None = q.unit_price  # priced by the default model itself
        else:
            spec = {"material": q.material, "quantity": q.quantity, **(q.inputs or {})}
            spec["tolerance"] = (q.inputs or {}).get("tolerance")
            r = ref.quote(f"q:{q.id}", part.analysis, spec)
            default_price = r.get("price") if r else None
        created, answered = q.created_at, None
        link = answers.get(q.id)
        if link is not None:
            created, answered = link[1].created_at, link[0].responded_at
        records.append(
            reference.make_record(
                f"q:{q.id}",
                org_id,
                q.material,
                process,
                ext,
                tol,
                result.finish,
                q.quantity,
                unit if status != "no_bid" else None,
                default_price,
                created,
                answered,
                status,
                out.delivered_on_time if out is not None and status == "won" else None,
            )  # fmt: skip
        )
        counts["quotes"] += 1
    for h, part in history.unread_rows(session, org_id=org_id, version=version):
        spec = {"material": h.material, "quantity": h.quantity, "tolerance": h.tolerance,
                "finish": h.finish}  # fmt: skip
        r = ref.quote(f"h:{h.id}", part.analysis, spec)
        if r is None or "error" in r:
            continue  # without the default quote the row's process and size are unknown
        records.append(
            reference.make_record(
                f"h:{h.id}",
                org_id,
                h.material,
                r["process"],
                tuple(r["ext"]),
                r["tol"],
                h.finish or "none",
                h.quantity,
                h.unit_price,
                r["price"],
                h.created_at,
                None,
                "open",
                None,
            )  # fmt: skip
        )
        counts["history_rows"] += 1
    for a, rfq in answers.values():
        if a.status != "declined":
            continue
        spec = rfq.rfq
        records.append(
            reference.make_record(
                f"r:{a.id}",
                org_id,
                spec.get("material", "other"),
                spec.get("process", "mill"),
                tuple(spec.get("extents_mm") or (1.0, 1.0, 1.0)),
                spec.get("tolerance_mm", 0.1),
                spec.get("finish", "none"),
                int(spec.get("quantity", 1)),
                None,
                spec.get("default_unit_price"),
                rfq.created_at,
                a.responded_at,
                "no_bid",
                None,
            )  # fmt: skip
        )
        counts["rfq_declines"] += 1
    return [r for r in records if r is not None], ref.cached, counts


def profile_to_dict(p: ShopProfile) -> dict[str, Any]:
    d = p.to_dict()
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def profile_from_dict(d: dict[str, Any]) -> ShopProfile:
    """A cached profile back as the core's ``ShopProfile`` (for the ranking index)."""

    def tup(v: Any) -> Any:
        return None if v is None else tuple(v)

    return ShopProfile(
        **{
            **d,
            "experience": {k: (int(v[0]), int(v[1])) for k, v in d["experience"].items()},
            "similar": {k: (int(v[0]), int(v[1])) for k, v in d["similar"].items()},
            "envelope_mm": tup(d.get("envelope_mm")),
            "quantity_range": tup(d.get("quantity_range")),
            "certifications": tuple(d.get("certifications") or ()),
            "declared_envelope_mm": tup(d.get("declared_envelope_mm")),
            "machines": tuple(
                DeclaredMachine(**{**m, "envelope_mm": tuple(m["envelope_mm"])})
                for m in d.get("machines") or ()
            ),
        }
    )


def _build(
    session: Session, *, org: Organization, models: ModelStore | None, now: datetime | None
) -> tuple[ShopProfile, dict[str, Any], str, ShopProfileCache | None, dict[str, Any] | None]:
    """(profile, meta, fingerprint, cache row, reference prices) of the shop; the prices are
    None when the cached profile was still valid (nothing new to store)."""
    from platform_api.machines import repository as machines_repository

    certs = sorted(org.certifications or [])
    version = reference.default_version(models)
    fp = repository.fingerprint(
        session,
        org_id=org.id,
        extra=f"{PROFILE_VERSION}|{version}|{'/'.join(certs)}",
        version=version,
    )
    cache = repository.get_cache(session, org_id=org.id)
    if cache is not None and cache.fingerprint == fp:
        meta = dict(cache.profile.get("_meta", {}))
        body = {k: v for k, v in cache.profile.items() if k != "_meta"}
        return profile_from_dict(body), meta, fp, cache, None
    # reference prices of another default model version are worth nothing: start over
    same = cache is not None and cache.reference_prices.get("_model") == version
    records, refs, counts = records_for(
        session,
        org_id=org.id,
        models=models,
        cached=cache.reference_prices if cache is not None and same else {},
        version=version,
    )
    refs["_model"] = version
    machines = declared_machines(machines_repository.all_of_shop(session, org_id=org.id))
    builder = ProfileBuilder(org.id, machines, tuple(certs)).fold_many(records)
    read = history.buckets(session, org_id=org.id, version=version) if version else []
    if read:
        builder.add_buckets(read, history.ratios_by_rank(session, org_id=org.id, version=version))
        counts["history_rows"] += sum(b.n for b in read)
    profile = builder.profile()
    meta = {"computed_at": (now or utcnow()).isoformat(), "sources": counts}
    return profile, meta, fp, cache, refs


def current_profile(
    session: Session,
    *,
    org: Organization,
    models: ModelStore | None,
    now: datetime | None = None,
) -> tuple[ShopProfile, dict[str, Any]]:
    """The shop's profile as of its stored rows; (profile, meta).

    The cached one while no row it reads has changed; else built here from the rows (reusing
    the cached reference prices) and not stored: a read writes nothing, ``refresh_profile``
    (the cache refresher's job) stores it.
    """
    profile, meta, *_ = _build(session, org=org, models=models, now=now)
    return profile, meta


def refresh_profile(
    session: Session,
    *,
    org: Organization,
    models: ModelStore | None,
    now: datetime | None = None,
) -> bool:
    """Rebuild and store the shop's cached profile if a row it reads changed; whether it did."""
    profile, meta, fp, _, refs = _build(session, org=org, models=models, now=now)
    if refs is None:
        return False
    repository.save_cache(
        session,
        org_id=org.id,
        profile={**profile_to_dict(profile), "_meta": meta},
        fingerprint=fp,
        reference_prices=refs,
        computed_at=datetime.fromisoformat(meta["computed_at"]),
    )
    return True


def get_profile(
    *, session: Session, principal: Principal, shop_id: str, models: ModelStore | None
) -> ProfilePublic:
    """A shop's profile: a shop sees its own; buyers and admins see any shop's."""
    principal.require("shop", "buyer", "admin")
    if principal.role == "shop" and shop_id != principal.org_id:
        raise NotFound(f"no shop {shop_id} of yours", detail={"shop_id": shop_id})
    org = orgs_repository.get_org_of_kind(session, shop_id, "shop")
    if org is None:
        raise NotFound(f"no shop {shop_id}", detail={"shop_id": shop_id})
    profile, meta = current_profile(session, org=org, models=models)
    d = profile_to_dict(profile)
    d.pop("shop")
    return ProfilePublic(
        shop_id=org.id,
        name=org.name,
        computed_at=datetime.fromisoformat(meta["computed_at"]),
        sources=meta.get("sources", {}),
        **d,
    )
