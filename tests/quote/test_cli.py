"""The CLI as a person runs it: real processes, exit codes, one-line errors, ordered batches."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

CLI = [sys.executable, "-c", "from quote.cli import main; main()"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "block.stl"
    trimesh.creation.box(extents=(60.0, 40.0, 25.0)).export(path)
    return path


def test_quote_json(block: Path, default_model) -> None:  # type: ignore[no-untyped-def]
    res = run("quote", str(block), "--material", "A5052", "--quantity", "10", "--json")
    assert res.returncode == 0, res.stderr
    q = json.loads(res.stdout)
    assert q["quantity"] == 10 and q["unit_price"] > 0
    assert q["features"]["obb_mm"] == pytest.approx([60.0, 40.0, 25.0], abs=0.01)


def test_quote_table_for_people(block: Path, default_model) -> None:  # type: ignore[no-untyped-def]
    res = run(
        "quote", str(block), "--material", "SUS304", "--quantity", "3", "--finish", "passivation"
    )
    assert res.returncode == 0, res.stderr
    assert "Unit price" in res.stdout and "Lead time" in res.stdout and "SUS304" in res.stdout


@pytest.mark.parametrize(
    "args,code",
    [
        (["--material", "unobtainium"], "unknown_material"),
        (["--material", "A5052", "--tolerance", "tight"], "invalid_tolerance"),
        (["--material", "A5052", "--quantity", "0"], "invalid_quantity"),
        (["--material", "A5052", "--shop", "nobody"], "model_not_found"),
    ],
)
def test_bad_spec_exit_2_one_line(block: Path, args: list[str], code: str) -> None:
    res = run("quote", str(block), *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and code in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_corrupt_file_exit_2_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stl"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(400))
    res = run("quote", str(bad), "--material", "A5052")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    missing = run("features", str(tmp_path / "nope.step"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_features_json(block: Path) -> None:
    res = run("features", str(block), "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["items"][0]["features"]["volume_mm3"] == pytest.approx(60000.0, rel=1e-6)


def test_quote_batch_keeps_order_and_goes_on_after_errors(
    tmp_path: Path, block: Path, default_model
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "parts").mkdir()
    trimesh.creation.box(extents=(30.0, 30.0, 30.0)).export(tmp_path / "parts" / "cube.stl")
    rows = [
        ["part_file", "material", "quantity", "tolerance", "finish"],
        [str(block), "A5052", "10", "ISO2768-m", "none"],
        ["parts/cube.stl", "SUS304", "5", "0.05", "passivation"],
        ["parts/cube.stl", "cheese", "5", "", ""],
        ["parts/missing.stl", "A5052", "5", "", ""],
        ["parts/cube.stl", "A5052", "many", "", ""],
        ["parts/cube.stl", "POM", "100", "", ""],
    ]
    req = tmp_path / "requests.csv"
    with req.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "out.jsonl"
    res = run("quote-batch", str(req), "--out", str(out))
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 6
    assert [x["line"] for x in lines] == [2, 3, 4, 5, 6, 7]
    assert "unit_price" in lines[0] and "unit_price" in lines[1] and "unit_price" in lines[5]
    assert lines[2]["error"] == "unknown_material"
    assert lines[3]["error"] and "missing.stl" in lines[3]["message"]
    assert lines[4]["error"] and "error" not in lines[5]
    assert lines[1]["material"] == "SUS304" and lines[5]["material"] == "POM"


@pytest.mark.parametrize(
    "args",
    [
        ["quote", "part.stl"],  # --material missing
        ["quote", "part.stl", "--material", "A5052", "--quantity", "abc"],
        ["quote-batch", "requests.csv"],  # --out missing
        ["no-such-command"],
    ],
)
def test_usage_mistakes_exit_2_with_one_line(args: list[str]) -> None:
    res = run(*args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: usage:"), res.stderr
