"""Attacks on the history import: hostile cells, broken quoting, paths that probe the server.

Each case goes through the real route and the job worker on SQLite and PostgreSQL and checks
the counts: every non-blank line read is either stored or rejected (rows_read = imported +
rejected), the good rows are all stored, the job never fails on a bad cell, and no traceback
is logged.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from platform_api.db.models import HistoryRow
from platform_api.jobs.worker import JobWorker
from platform_api.shops.jobs import HANDLERS
from tests.platform_api.factories import Org, csv_bytes, history_dataset, history_zip, make_org

HEADER = ["part_file", "material", "quantity", "tolerance", "finish", "unit_price",
          "lead_time_days"]  # fmt: skip


def _import(client: TestClient, ctx: Any, shop: Org, csv: bytes, files: dict[str, bytes]) -> dict:
    r = client.post(
        f"/v1/shops/{shop.id}/history",
        files={"history": ("h.csv", csv, "text/csv"), "parts": ("p.zip", history_zip(files))},
        headers=shop.headers,
    )
    assert r.status_code == 202, r.text
    assert JobWorker(ctx, HANDLERS).run_until_empty() == [r.json()["id"]]
    job = client.get(f"/v1/jobs/{r.json()['id']}", headers=shop.headers).json()
    assert job["status"] == "succeeded", job  # bad rows never fail the job
    res = job["result"]
    assert res["rows_read"] == res["rows_imported"] + res["rows_rejected"], res
    assert res["rows_rejected"] == len({e["line"] for e in job["errors"]})
    with ctx.db.session() as session:
        stored = session.exec(select(HistoryRow).where(col(HistoryRow.job_id) == job["id"])).all()
    assert len(stored) == res["rows_imported"]
    job["stored_lines"] = sorted(r.line for r in stored)
    return job  # type: ignore[no-any-return]


def _by_line(job: dict) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for e in job["errors"]:
        out.setdefault(e["line"], []).append(e)
    return out


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    yield
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]


@pytest.fixture(scope="module")
def dataset() -> tuple[list[list[str]], dict[str, bytes]]:
    """32 good rows over 2 generated parts (header first)."""
    return history_dataset(2, 16, seed=7)


HOSTILE = [  # (column, cell): each alone makes a row bad
    ("quantity", "1e30"),
    ("quantity", str(2**63)),
    ("quantity", str(2**64 + 1)),
    ("quantity", "1e308"),
    ("quantity", "inf"),
    ("quantity", "nan"),
    ("quantity", "-1"),
    ("quantity", "1000001"),
    ("quantity", "0x10"),
    ("unit_price", "1e30"),
    ("unit_price", "inf"),
    ("unit_price", "-0"),
    ("unit_price", "1e400"),
    ("unit_price", "nan"),
    ("lead_time_days", "1e30"),
    ("lead_time_days", "0"),
    ("lead_time_days", "-inf"),
    ("lead_time_days", "9" * 400),
    ("tolerance", "0." + "0" * 5000 + "1"),
    ("tolerance", "ISO2768-m" * 10),
    ("material", "x" * 100_000),
    ("finish", "\x00"),
    ("part_file", "parts/a\x00b.stl"),
    ("part_file", "p" * 5000),
    ("part_file", "parts/" + "d" * 300 + ".stl"),  # longer than a file name may be
    ("part_file", ""),
]


def test_hostile_cells_are_row_errors_and_every_good_row_is_stored(
    client: TestClient, ctx: Any, dataset: Any, no_tracebacks: None
) -> None:
    rows, files = dataset
    shop = make_org(ctx, "shop")
    good = rows[1:]
    lines = [HEADER]
    expect_bad: dict[int, str] = {}
    for i, (column, cell) in enumerate(HOSTILE):
        lines.append(good[i % len(good)])
        bad = list(good[i % len(good)])
        bad[HEADER.index(column)] = cell
        lines.append(bad)
        expect_bad[len(lines)] = column  # line number of the bad row (header = 1)
    lines.append([*good[0][:6], ""])  # an empty lead time is a good row (price only)
    job = _import(client, ctx, shop, csv_bytes(lines), files)
    res = job["result"]
    assert res["rows_read"] == len(lines) - 1
    assert res["rows_rejected"] == len(HOSTILE) and res["rows_imported"] == len(HOSTILE) + 1
    errors = _by_line(job)
    assert sorted(errors) == sorted(expect_bad)
    for line, column in expect_bad.items():
        assert [e["column"] for e in errors[line]] == [column], errors[line]
        assert all(len(e["message"]) < 1000 for e in errors[line])  # no echo of a huge cell
    history = client.get(f"/v1/shops/{shop.id}/history?limit=200", headers=shop.headers).json()
    last = [h for h in history["items"] if h["line"] == len(lines)]
    assert len(last) == 1 and last[0]["lead_time_days"] is None


def test_one_row_with_several_bad_cells_reports_each(
    client: TestClient, ctx: Any, dataset: Any, no_tracebacks: None
) -> None:
    rows, files = dataset
    shop = make_org(ctx, "shop")
    bad = [rows[1][0], "unobtainium", "1e30", "tight", "", "inf", "-3"]
    job = _import(client, ctx, shop, csv_bytes([HEADER, rows[1], bad]), files)
    assert job["result"]["rows_rejected"] == 1 and job["result"]["rows_imported"] == 1
    columns = {e["column"] for e in _by_line(job)[3]}
    assert columns == {"material", "quantity", "tolerance", "unit_price", "lead_time_days"}


def test_an_unbalanced_quote_loses_only_its_own_line(
    client: TestClient, ctx: Any, dataset: Any, no_tracebacks: None
) -> None:
    rows, files = dataset
    shop = make_org(ctx, "shop")
    text = csv_bytes(rows[:3]).decode()
    text += f'{rows[3][0]},"A5052,1,,,1000,5\n'  # line 4: the quote is never closed
    text += csv_bytes(rows[4:]).decode()  # 29 good lines after it
    text += f'{rows[4][0]},A5052,1,,,"12,000",5,extra\n'  # a cell too many
    text += f"{rows[4][0]},A5052,1,,,12,000,5\n"  # an unquoted comma shifts the columns
    text += f'{rows[4][0]},A5052,1,,,"1000"x,5\n'  # text after a closing quote
    job = _import(client, ctx, shop, text.encode(), files)
    res = job["result"]
    n_good = len(rows) - 2  # all but the header and the broken line 4
    assert res["rows_read"] == len(rows) + 2  # 32 data lines, line 4 broken, 3 more bad
    assert res["rows_imported"] == n_good and res["rows_rejected"] == 4
    errors = _by_line(job)
    assert errors[4][0]["error"] == "malformed_csv_line" and errors[4][0]["column"] is None
    assert "quote" in errors[4][0]["message"]
    last = len(rows)  # the last good line
    assert [errors[n][0]["error"] for n in (last + 1, last + 2, last + 3)] == [
        "wrong_cell_count",
        "wrong_cell_count",
        "malformed_csv_line",
    ]
    assert job["stored_lines"] == [n for n in range(2, len(rows) + 1) if n != 4]


OUTSIDE = [
    "/etc/hostname",  # exists on the server
    "/etc/no-such-file-here",
    "/",
    "/proc/self/environ",
    "../../../../etc/hostname",
    "../../../../no-such-file-here",
    "../history.csv",  # the job's own upload folder: exists
    "../parts.zip",
    "../../..",
    "parts/../../history.csv",
    "..",
    "..\\..\\history.csv",
    "C:\\Windows\\win.ini",
    "c:/boot.ini",
]


def test_part_file_outside_the_zip_gets_one_answer_whatever_the_server_holds(
    client: TestClient, ctx: Any, dataset: Any, data_dir: Any, no_tracebacks: None
) -> None:
    rows, files = dataset
    shop = make_org(ctx, "shop")
    lines = [HEADER, rows[1]] + [[p, *rows[1][1:]] for p in OUTSIDE]
    lines.append(["parts/not-in-the-zip.stl", *rows[1][1:]])
    lines.append(["~/.bashrc", *rows[1][1:]])  # no home expansion: a name inside the zip
    job = _import(client, ctx, shop, csv_bytes(lines), files)
    assert job["result"]["rows_imported"] == 1
    errors = _by_line(job)
    answers = {
        (e["error"], e["column"], e["message"])
        for n in range(3, 3 + len(OUTSIDE))
        for e in errors[n]
    }
    assert len(answers) == 1, answers
    assert next(iter(answers))[0] == "part_file_outside_zip"
    for n in (len(lines) - 1, len(lines)):
        assert errors[n][0]["error"] == "part_not_found"
    assert str(data_dir) not in str(job) and "/etc" not in str(job["errors"])


def test_a_history_of_only_bad_rows_succeeds_with_nothing_stored(
    client: TestClient, ctx: Any, dataset: Any, no_tracebacks: None
) -> None:
    rows, files = dataset
    shop = make_org(ctx, "shop")
    lines = [HEADER] + [[r[0], r[1], "1e30", *r[3:]] for r in rows[1:6]]
    job = _import(client, ctx, shop, csv_bytes(lines), files)
    assert job["result"] | {"notes": []} == {
        "rows_read": 5,
        "rows_imported": 0,
        "rows_rejected": 5,
        "part_files": 0,
        "notes": [],
    }
