"""Saving and loading model artifacts: joblib files and bytes with a format check.

The platform stores the bytes in its database; ``make run`` writes the default model to
``default_model_path()``. Pickles name the class ``quote.training.QuoteModel`` when they were
written before the artifact moved to ``quote.artifact`` (``quote.training`` still exports it,
so those models keep loading).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import joblib

from quote import featurize
from quote.artifact import FORMAT_VERSION, QuoteModel
from quote.errors import ModelIncompatible, ModelNotFound

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_model_path() -> Path:
    """Where `make run` writes the default model: <repo>/data/models/default.joblib."""
    return REPO_ROOT / "data" / "models" / "default.joblib"


def model_to_bytes(model: QuoteModel) -> bytes:
    """Serialise a model (joblib, compressed) for storage in a database."""
    buf = io.BytesIO()
    joblib.dump({"format_version": FORMAT_VERSION, "model": model}, buf, compress=3)
    return buf.getvalue()


def _check_payload(payload: Any, where: str) -> QuoteModel:
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), QuoteModel):
        raise ModelIncompatible(
            f"{where} is not a Mitsumori model; rebuild it (`make run` for the default model, "
            "`mitsumori train` for a shop model).",
            detail={"where": where},
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelIncompatible(
            f"{where} has model format {version}, this version reads {FORMAT_VERSION}; retrain "
            "it (`make run` for the default model, `mitsumori train` for a shop model).",
            detail={"where": where, "format_version": version, "expected": FORMAT_VERSION},
        )
    model: QuoteModel = payload["model"]
    if tuple(model.feature_names) != featurize.FEATURE_NAMES:
        raise ModelIncompatible(
            f"{where} was trained on other features than this version computes; retrain it.",
            detail={"where": where},
        )
    return model


def model_from_bytes(data: bytes) -> QuoteModel:
    """Inverse of ``model_to_bytes``; ModelIncompatible for corrupt or foreign bytes."""
    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as exc:  # corrupt pickles raise anything (EOFError, UnpicklingError, ...)
        raise ModelIncompatible(
            f"stored model bytes cannot be read ({type(exc).__name__}); retrain the model.",
        ) from exc
    return _check_payload(payload, "stored model")


def save_model(model: QuoteModel, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (folders created; written to a temporary file, then renamed,
    so a reader never sees half a model)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(model_to_bytes(model))
    tmp.replace(path)
    return path


def load_model(path: str | Path) -> QuoteModel:
    """Read a model written by ``save_model``.

    Raises
    ------
    ModelNotFound
        No file at ``path``.
    ModelIncompatible
        The file is corrupt, not a model, or from an incompatible version.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelNotFound(f"no model file at {path}", detail={"path": str(path)}) from exc
    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as exc:  # corrupt pickles raise anything (EOFError, UnpicklingError, ...)
        raise ModelIncompatible(
            f"{path} is not a readable model ({type(exc).__name__}); rebuild it (`make run` for "
            "the default model, `mitsumori train` for a shop model).",
            detail={"path": str(path)},
        ) from exc
    return _check_payload(payload, str(path))


def load_default_model(path: str | Path | None = None) -> QuoteModel:
    """The default model (``default_model_path()`` unless ``path``).

    Raises
    ------
    ModelNotFound
        It has not been built yet: the message says to run `make run` (or
        `mitsumori model build-default`).
    """
    target = Path(path) if path is not None else default_model_path()
    if not target.exists():
        raise ModelNotFound(
            f"the default pricing model {target} has not been built yet: run `make run` "
            "(or `mitsumori model build-default`) once; it takes about a minute.",
            detail={"path": str(target)},
        )
    return load_model(target)
