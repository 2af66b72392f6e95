"""The default supplier ranker: loaded from ``settings.ranker_path``, trained there if missing.

``matching.ranker_training.train_default_ranker(random_state=0)`` (about 5 s on two cores) learns
from the seeded marketplace simulator; ``make run`` builds it ahead (``mitsumori ranker build``),
and an API process that finds none trains it once in the background at start (or on the first
match, which then waits for it). The file is written atomically, so processes starting together
never read half of it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from matching.ranking.estimator import LambdaRanker
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
        """The ranker; trains and saves it first if the file is missing or outdated."""
        with self._lock:
            if self._ranker is None:
                from matching.ranking.estimator import load_ranker

                try:
                    self._ranker = load_ranker(self.path)
                except (ModelNotFound, ModelIncompatible) as exc:
                    log.info("training the default ranker (%s)", exc.message)
                    self._ranker = build_ranker(self.path)
            return self._ranker

    def warm_up(self) -> threading.Thread:
        """Load or train it in a background thread (the API starts serving meanwhile)."""
        thread = threading.Thread(target=self._warm, name="mitsumori-ranker", daemon=True)
        thread.start()
        return thread

    def _warm(self) -> None:
        try:
            self.get()
        except Exception:  # logged; the first match retries and reports the error
            log.exception("the default ranker could not be loaded or trained")

    @property
    def version(self) -> str:
        r: Any = self._ranker
        return str(getattr(r, "version_", "") or "") if r is not None else ""


def ranker_of(ctx: Any) -> LambdaRanker:
    """The ranker of an ``AppContext`` (a store is attached on first use: CLI and jobs)."""
    if ctx.ranker is None:
        ctx.ranker = RankerStore(ctx.settings.ranker_path)
    return ctx.ranker.get()  # type: ignore[no-any-return]
