"""The quote engine's command line: quote, features, train, quote-batch, model build-default.

Every typed engine error becomes exit code 2 and one line on stderr; results go to stdout
(``--json`` for machines, a Rich table for people). The platform's CLI (``platform_api.cli``)
adds ``serve``, ``db`` and ``demo`` to the same ``mitsumori`` command.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from quote.contract import Quote
from quote.errors import MitsumoriError, ModelNotFound
from quote.types import BREAKDOWN_FIELDS, as_jsonable

REPO_ROOT = Path(__file__).resolve().parents[1]
SHOP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

app = typer.Typer(
    name="mitsumori",
    help="Mitsumori: automated quotes for precision parts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
model_app = typer.Typer(help="Build and inspect pricing models.", no_args_is_help=True)
app.add_typer(model_app, name="model")

out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CliSettings(BaseSettings):
    """Where the CLI keeps shop models: ``$MITSUMORI_DATA_DIR/models/<shop>.joblib``."""

    model_config = SettingsConfigDict(env_prefix="MITSUMORI_", extra="ignore")
    data_dir: Path = REPO_ROOT / "var"


def _fail(exc: MitsumoriError) -> None:
    err.print(f"error: {exc.code}: {exc.message}", markup=False)
    raise typer.Exit(2)


@contextmanager
def typed_errors() -> Iterator[None]:
    """Turn engine errors into exit code 2 with one line on stderr."""
    try:
        yield
    except MitsumoriError as exc:
        _fail(exc)


@contextmanager
def spinner(message: str, *, enabled: bool = True) -> Iterator[None]:
    """A Rich spinner on stderr after the first second of slow work (STEP parsing, training)."""
    if not enabled or not err.is_terminal:
        yield
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        progress.add_task(message, total=None)
        yield


def _progress_bar(total_label: str) -> tuple[Progress, Callable[[int, int, str], None]]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = progress.add_task(total_label, total=None)

    def update(done: int, total: int, message: str = "") -> None:
        progress.update(task, completed=done, total=total, description=message or total_label)

    return progress, update


def shop_model_path(shop: str, data_dir: Path | None = None) -> Path:
    """File of a shop's model; the name is checked so it cannot escape the models folder."""
    if not SHOP_NAME.match(shop):
        raise ModelNotFound(
            f"shop name {shop!r} is not valid: use letters, digits, '.', '_' or '-' (max 64)",
            detail={"shop": shop},
        )
    return (data_dir or CliSettings().data_dir) / "models" / f"{shop}.joblib"


def _load_model(shop: str | None) -> Any:
    from quote.persistence import load_default_model, load_model

    if shop is None:
        return load_default_model()
    path = shop_model_path(shop)
    if not path.exists():
        folder = path.parent
        known = sorted(p.stem for p in folder.glob("*.joblib")) if folder.exists() else []
        raise ModelNotFound(
            f"no model for shop {shop!r}; train one with `mitsumori train --history FILE.csv "
            f"--shop {shop}`" + (f" (trained shops: {', '.join(known)})" if known else ""),
            detail={"shop": shop, "known": known},
        )
    return load_model(path)


def _money(v: float) -> str:
    return f"¥{v:,.0f}"


def _print_quote(q: Quote) -> None:
    lo, hi = q.unit_price_interval
    title = f"{q.file.name}: {q.quantity} x {q.material}, {q.tolerance.label}, finish {q.finish}"
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_row("Unit price", f"{_money(q.unit_price)}  (90%: {_money(lo)} - {_money(hi)})")
    t.add_row("Total", _money(q.total_price))
    llo, lhi = q.lead_time_interval
    t.add_row("Lead time", f"{q.lead_time_days} business days  (90%: {llo}-{lhi})")
    t.add_row(
        "Tiers", ", ".join(f"{x.name} {x.days} d {_money(x.unit_price)}" for x in q.lead_time_tiers)
    )
    t.add_row(
        "Breakdown / unit",
        ", ".join(f"{k} {_money(getattr(q.breakdown, k))}" for k in BREAKDOWN_FIELDS),
    )
    t.add_row(
        "Price breaks", ", ".join(f"{b.quantity}: {_money(b.unit_price)}" for b in q.price_breaks)
    )
    m = q.model
    t.add_row("Model", f"{m.name} {m.version}" + (f" (shop {m.shop})" if m.shop else ""))
    out.print(t)
    if q.explanation.lines:
        out.print("[bold]Why this price[/bold]")
        for line in q.explanation.lines:
            out.print(f"  - {line}", markup=False)
    if q.dfm:
        out.print("[bold]Manufacturability[/bold]")
        for w in q.dfm:
            out.print(f"  [{w.severity}] {w.code}: {w.message}", markup=False)
    if q.warnings:
        out.print("[bold]Warnings[/bold]")
        for n in q.warnings:
            out.print(f"  {n.code}: {n.message}", markup=False)
    if len(q.items) > 1:
        out.print(f"[bold]{len(q.items)} line items[/bold]")
        for it in q.items:
            out.print(
                f"  {it.name}: {_money(it.unit_price)} each, {it.lead_time_days} d", markup=False
            )


Material = Annotated[
    str, typer.Option("--material", "-m", help="JIS name or alias, e.g. A5052, 6061-T6, SUS304")
]
Quantity = Annotated[int, typer.Option("--quantity", "-q", help="Pieces")]
Tolerance = Annotated[str | None, typer.Option(help="ISO 2768 class (ISO2768-m) or +-mm (0.02)")]
Finish = Annotated[
    str | None, typer.Option(help="none, anodize, hard_anodize, electroless_nickel, ...")
]
Shop = Annotated[str | None, typer.Option(help="Price like this shop (its trained model)")]
Units = Annotated[str | None, typer.Option(help="Units of a mesh file: mm (default), cm, m, inch")]
NoPmi = Annotated[
    bool, typer.Option("--no-pmi", help="Ignore a STEP file's PMI (tolerances, datums)")
]


@app.command()
def quote(
    part: Annotated[Path, typer.Argument(help="STEP, STL, OBJ, PLY, 3MF or GLB file")],
    material: Material,
    quantity: Quantity = 1,
    tolerance: Tolerance = None,
    finish: Finish = None,
    roughness: Annotated[float | None, typer.Option(help="Ra in um (default 3.2)")] = None,
    due_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    shop: Shop = None,
    units: Units = None,
    no_pmi: NoPmi = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the quote JSON")] = False,
) -> None:
    """Quote a part: unit price, lead time, breakdown, reasons and DFM warnings."""
    from quote.engine import QuoteRequest, quote_analysis
    from quote.errors import SpecError
    from quote.isolation import analyze_isolated

    with typed_errors():
        due = None
        if due_date:
            try:
                due = date.fromisoformat(due_date)
            except ValueError:
                raise SpecError(f"due date {due_date!r} is not a date: use YYYY-MM-DD") from None
        request = QuoteRequest(
            material=material,
            quantity=quantity,
            tolerance=tolerance,
            finish=finish,
            roughness_ra_um=roughness,
            due_date=due,
        )
        model = _load_model(shop)
        with spinner(f"Reading {part.name}", enabled=not as_json):
            # STEP is read in a child process: a reader crash is a typed error, not exit -11
            analysis = analyze_isolated(part, units=units, pmi=not no_pmi)
            result = quote_analysis(analysis, request, model=model)
    if as_json:
        sys.stdout.write(json.dumps(as_jsonable(result), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_quote(result)


@app.command()
def features(
    part: Annotated[Path, typer.Argument(help="Part file")],
    units: Units = None,
    no_pmi: NoPmi = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Measure a part: volume, extents, stock, holes, walls, setups, process, PMI, DFM."""
    from quote.isolation import analyze_isolated

    with typed_errors(), spinner(f"Reading {part.name}", enabled=not as_json):
        analysis = analyze_isolated(part, units=units, pmi=not no_pmi)
    d = analysis.to_dict()
    if as_json:
        sys.stdout.write(json.dumps(d, ensure_ascii=False, indent=2) + "\n")
        return
    for item in d["items"]:
        f = item["features"]
        t = Table(
            title=f"{d['file_name']} - {item['name']}", show_header=False, title_justify="left"
        )
        t.add_row("Volume", f"{f['volume_mm3'] / 1000:,.2f} cm3")
        t.add_row("Surface area", f"{f['area_mm2'] / 100:,.1f} cm2")
        t.add_row("Extents (x y z)", " x ".join(f"{v:.2f}" for v in f["bbox_mm"]) + " mm")
        t.add_row("Oriented box", " x ".join(f"{v:.2f}" for v in f["obb_mm"]) + " mm")
        s = f["stock"]
        t.add_row("Stock", f"{s['form']} " + " x ".join(f"{v:g}" for v in s["dims_mm"]) + " mm")
        t.add_row("Removed", f"{f['removed_volume_mm3'] / 1000:,.2f} cm3")
        t.add_row(
            "Holes",
            f"{f['hole_count']} ("
            + ", ".join(
                f"{h['diameter_mm']:.2f}{' thru' if h['through'] else ''}" for h in f["holes"][:8]
            )
            + ")",
        )
        t.add_row("Setups", f"{f['setups']} ({' '.join(f['access_directions'])})")
        t.add_row("Min wall", f"{f['min_wall_mm']:.2f} mm")
        r = f["min_internal_radius_mm"]
        t.add_row("Min internal radius", "none" if r is None else f"{r:.2f} mm")
        t.add_row(
            "Deepest pocket",
            f"{f['max_pocket_depth_mm']:.1f} deep x {f['max_pocket_width_mm']:.1f} wide mm",
        )
        t.add_row("Process", f"{f['process']} (axisymmetry {f['axisymmetry']:.2f})")
        t.add_row("Faces", ", ".join(f"{k} {v}" for k, v in f["face_counts"].items() if v))
        if f.get("pmi"):
            p = f["pmi"]
            t.add_row(
                "PMI",
                f"{len(p['dimensions'])} dimensions, {len(p['tolerances'])} geometric "
                f"tolerances, {len(p['datums'])} datums",
            )
        out.print(t)
        for w in item["dfm"]:
            out.print(f"  [{w['severity']}] {w['code']}: {w['message']}", markup=False)
    for w in d["warnings"]:
        out.print(f"  {w['code']}: {w['message']}", markup=False)


@app.command()
def train(
    history: Annotated[Path, typer.Option("--history", help="History CSV (see README)")],
    shop: Annotated[str, typer.Option("--shop", help="Shop name the model is saved under")],
) -> None:
    """Train a shop's own pricing model from its past quotes (at least 50 good rows)."""
    from quote.history import read_history_csv
    from quote.persistence import load_default_model, save_model
    from quote.training import train_shop_model

    with typed_errors():
        path = shop_model_path(shop)
        read = read_history_csv(history)
        for e in read.errors:
            where = f"line {e.line}" + (f", {e.column}" if e.column else "")
            err.print(f"{where}: {e.code}: {e.message}", markup=False)
        base = load_default_model()
        progress, update = _progress_bar(f"Training {shop}")
        t0 = time.perf_counter()
        with progress:
            model = train_shop_model(read.rows, shop=shop, base=base, progress=update)
        save_model(model, path)
    m = model.metrics
    out.print(
        f"Trained {model.version} on {model.trained_rows} rows "
        f"({read.rejected_lines} lines skipped) in {time.perf_counter() - t0:.1f} s -> {path}"
    )
    if m:
        out.print(
            "Backtest: "
            + ", ".join(f"{k} {v:.3g}" for k, v in m.items() if isinstance(v, int | float))
        )


@app.command("quote-batch")
def quote_batch(
    requests: Annotated[
        Path, typer.Argument(help="CSV: part_file,material,quantity,tolerance,finish")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Results, one JSON line per request row")],
    shop: Shop = None,
    units: Units = None,
) -> None:
    """Quote every row of a CSV; a failing row gets {"error", "message"} on its line."""
    from quote.catalogs import load_catalog
    from quote.engine import QuoteRequest, quote_analysis
    from quote.history import read_requests_csv
    from quote.isolation import IsolatedPool, analyze_isolated

    with typed_errors():
        model = _load_model(shop)
        catalog = load_catalog()
        rows = read_requests_csv(requests)
    progress, update = _progress_bar("Quoting")
    cache: dict[Path, Any] = {}
    n_ok = n_err = 0
    step_reader = IsolatedPool(1)  # one child for every STEP row; started at the first one
    with out_path.open("w", encoding="utf-8") as fh, progress, step_reader:
        for i, row in enumerate(rows):
            update(i, len(rows), f"Quoting row {row.line}")
            try:
                if row.error is not None:
                    raise row.error
                if row.part_file not in cache:
                    try:
                        cache[row.part_file] = analyze_isolated(
                            row.part_file, units=units, pool=step_reader
                        )
                    except MitsumoriError as exc:
                        cache[row.part_file] = exc
                analysis = cache[row.part_file]
                if isinstance(analysis, MitsumoriError):
                    raise analysis
                req = QuoteRequest(
                    material=row.material,
                    quantity=row.quantity,
                    tolerance=row.tolerance,
                    finish=row.finish,
                )
                result: dict[str, Any] = {
                    "line": row.line,
                    **as_jsonable(quote_analysis(analysis, req, model=model, catalog=catalog)),
                }
                n_ok += 1
            except MitsumoriError as exc:
                result = {"line": row.line, "error": exc.code, "message": exc.message}
                n_err += 1
            fh.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.print(f"{n_ok} quoted, {n_err} failed -> {out_path}")


@model_app.command("build-default")
def build_default(
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write the model")] = None,
    parts: Annotated[int, typer.Option(help="Generated parts in the training corpus")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Train the default model on physics-priced generated parts (run by `make run`)."""
    from quote.persistence import default_model_path, save_model
    from quote.training import train_default_model

    target = out_file or default_model_path()
    progress, update = _progress_bar("Building default model")
    t0 = time.perf_counter()
    with typed_errors(), progress:
        kwargs: dict[str, Any] = {"random_state": seed, "progress": update}
        if parts:
            kwargs["n_parts"] = parts
        model = train_default_model(**kwargs)
        save_model(model, target)
    out.print(
        f"Default model {model.version} ({model.trained_rows} rows) "
        f"in {time.perf_counter() - t0:.0f} s -> {target}"
    )


@model_app.command("show")
def show_model(shop: Shop = None) -> None:
    """Print a model's version, training size and backtest metrics."""
    with typed_errors():
        model = _load_model(shop)
    info = {
        "name": model.name,
        "version": model.version,
        "shop": model.shop,
        "trained_rows": model.trained_rows,
        "metrics": model.metrics,
    }
    sys.stdout.write(json.dumps(info, indent=2, default=str) + "\n")


def _click_message(exc: BaseException) -> str:
    """The message of a Click exception (Typer may raise its vendored copy of the classes)."""
    format_message = getattr(exc, "format_message", None)
    return str(format_message()) if callable(format_message) else str(exc)


def main(application: typer.Typer | None = None) -> None:
    """Run a Typer app with one-line errors: usage mistakes exit 2 with one line on stderr too.

    Click prints a usage box on several lines for a missing or malformed option; the founders'
    rule is one line a person can act on, the same as for typed engine errors.
    """
    try:
        rv = (application or app)(standalone_mode=False)
    except Exception as exc:
        # Matched by class name: recent Typer raises its own vendored copy of Click's classes.
        kinds = {c.__name__ for c in type(exc).__mro__}
        if "UsageError" in kinds:
            ctx = getattr(exc, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            err.print(f"error: usage: {_click_message(exc)}{where}", markup=False)
            sys.exit(2)
        if "Abort" in kinds:
            err.print("error: aborted", markup=False)
            sys.exit(1)
        if "ClickException" in kinds:
            err.print(f"error: {_click_message(exc)}", markup=False)
            sys.exit(getattr(exc, "exit_code", 1))
        raise
    sys.exit(rv if isinstance(rv, int) else 0)
