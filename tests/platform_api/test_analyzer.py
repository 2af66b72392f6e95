"""The analysis process pool: typed errors cross the process boundary, crashes are contained."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from platform_api.analyzer import Analyzer
from quote.errors import InvalidUnits, UnreadablePart
from tests.platform_api.factories import stl_box

pytestmark = pytest.mark.slow


def _sleep_then(value: int) -> int:
    time.sleep(1.2)
    return value


def _die(*args: object) -> None:
    os._exit(13)  # what an abort in native code looks like from the parent


@pytest.fixture(scope="module")
def pool() -> Analyzer:
    analyzer = Analyzer(1, max_bytes=10 * 2**20)
    yield analyzer  # type: ignore[misc]
    analyzer.close()


def test_analysis_in_a_worker_process(pool: Analyzer, tmp_path: Path) -> None:
    path = tmp_path / "box.stl"
    path.write_bytes(stl_box(10, 20, 30))
    result = pool.analyze(path, units=None)
    assert sorted(result["items"][0]["features"]["bbox_mm"]) == pytest.approx([10, 20, 30])


def test_typed_errors_keep_their_detail(pool: Analyzer, tmp_path: Path) -> None:
    path = tmp_path / "box.stl"
    path.write_bytes(stl_box())
    with pytest.raises(InvalidUnits) as info:
        pool.analyze(path, units="furlong")
    assert info.value.detail  # survived the trip from the worker process


def test_waiting_ticks(pool: Analyzer) -> None:
    ticks: list[float] = []
    assert pool.call(_sleep_then, 7, tick=lambda: ticks.append(1.0), tick_seconds=0.2) == 7
    assert len(ticks) >= 3


def test_a_crashing_reader_is_a_4xx_and_the_pool_recovers(pool: Analyzer, tmp_path: Path) -> None:
    with pytest.raises(UnreadablePart, match="crashed") as info:
        pool.call_part(_die)
    assert info.value.detail == {"reason": "reader_crashed", "cause": "exit code 13"}
    path = tmp_path / "ok.stl"
    path.write_bytes(stl_box(5, 5, 5))
    assert pool.analyze(path, units="mm")["source_format"] == "stl"  # a 5 mm cube, confirmed
