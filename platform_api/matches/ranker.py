"""The default supplier ranker: loaded from ``settings.ranker_path``.

``matching.ranker_training.train_default_ranker(random_state=0)`` (about 5 s on two cores)
learns from the seeded marketplace simulator; ``make`` builds it (``mitsumori ranker build``,
written atomically). A process never trains it itself: without a usable file a match answers
503 ``ranker_unavailable`` naming the command that builds it, so no request waits seconds for
a training it did not ask for.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from matching.ranking.estimator import LambdaRanker
from platform_api.errors import RankerUnavailable
from quote.errors import ModelIncompatible, ModelNotFound

log = logging.getLogger("mitsumori.ranker")


def build_ranker(path: Path, *, random_state: int = 0) -> LambdaRanker:
    """Train the default ranker and save it to ``path`` (atomic replace)."""
    from matching.ranker_training import train_default_ranker
    from matching.ranking.estimator import save_ranker

    ranker = train_default_ranker(random_state=random_state)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_ranker(ranker, tmp)
    os.replace(tmp, path)
    return ranker


class RankerStore:
    """One ranker per process, loaded (or trained) once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ranker: LambdaRanker | None = None
        self._lock = threading.Lock()

    def get(self) -> LambdaRanker:
        """The ranker, loaded on first use; ``RankerUnavailable`` if the file is missing or
        of an older format (tried again on the next call, so a rebuilt file is picked up)."""
        with self._lock:
            if self._ranker is None:
                from matching.ranking.estimator import load_ranker

                try:
                    self._ranker = load_ranker(self.path)
                except (ModelNotFound, ModelIncompatible) as exc:
                    raise RankerUnavailable(
                        f"no usable supplier ranker at {self.path} ({exc.message}); build it "
                        "with `make model` or `mitsumori ranker build`",
                        detail={"path": str(self.path), "reason": exc.code},
                    ) from None
            return self._ranker

    def warm_up(self) -> threading.Thread:
        """Load it in a background thread (the API starts serving meanwhile)."""
        thread = threading.Thread(target=self._warm, name="mitsumori-ranker", daemon=True)
        thread.start()
        return thread

    def _warm(self) -> None:
        try:
            self.get()
        except RankerUnavailable as exc:  # matching answers 503 until the file is built
            log.warning("%s", exc.message)
        except Exception:  # logged; the first match retries and reports the error
            log.exception("the default ranker could not be loaded")

    @property
    def version(self) -> str:
        r: Any = self._ranker
        return str(getattr(r, "version_", "") or "") if r is not None else ""


def ranker_of(ctx: Any) -> LambdaRanker:
    """The ranker of an ``AppContext`` (a store is attached on first use: CLI and jobs)."""
    if ctx.ranker is None:
        ctx.ranker = RankerStore(ctx.settings.ranker_path)
    return ctx.ranker.get()
