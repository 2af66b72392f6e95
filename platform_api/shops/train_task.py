"""Training a shop model in a worker process (imports only the pure engine, so it starts fast)."""

from __future__ import annotations

from typing import Any

from quote.errors import MitsumoriError


def train_in_worker(
    rows: list[Any],
    shop: str,
    random_state: int,
    progress: Any,
    analyses: dict[Any, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train on ``rows`` (``quote.history.HistoryRow``) with the default model as the prior.

    ``analyses`` maps part paths to stored ``PartAnalysis.to_dict()`` output, so the worker
    does not parse the part files again.

    ``progress`` has ``put_nowait((done, total, message))`` (a manager queue across processes).
    Returns the artifact bytes and the model's identity and metrics, or ``{"__error__": ...}``
    for a typed error (its ``detail`` would not survive pickling as an exception).
    """
    from quote.analysis import analysis_from_dict
    from quote.persistence import load_default_model, model_to_bytes
    from quote.training import train_shop_model

    def report(done: int, total: int, message: str) -> None:
        try:
            progress.put_nowait((done, total, message))
        except Exception:  # a full or closed queue must not fail the training
            pass

    try:
        model = train_shop_model(
            rows,
            shop=shop,
            base=load_default_model(),
            random_state=random_state,
            progress=report,
            analyses={p: analysis_from_dict(a) for p, a in (analyses or {}).items()},
        )
    except MitsumoriError as exc:
        return {"__error__": {"class": type(exc).__name__, **exc.to_dict()}}
    return {
        "artifact": model_to_bytes(model),
        "name": model.name,
        "version": model.version,
        "metrics": model.metrics,
        "trained_rows": model.trained_rows,
        "notes": list(getattr(model, "notes", []))[:200],
    }
