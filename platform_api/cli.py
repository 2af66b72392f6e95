"""The ``mitsumori`` command: the quote engine's commands plus the platform's.

``quote``, ``features``, ``train``, ``quote-batch``, ``model`` come from ``quote.cli``; this module
adds ``serve``, ``db upgrade``, ``keys create|revoke|generate``, ``jobs run`` and ``demo seed``.
Typed errors exit with code 2 and one line on stderr, as in the engine's CLI.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from quote.errors import MitsumoriError

app = typer.Typer(
    name="mitsumori",
    help="Mitsumori: automated quotes for precision parts, and the platform that serves them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

try:  # the engine's commands; the platform's own still work if that module is broken
    from quote.cli import app as _quote_app
except ImportError as _exc:  # pragma: no cover - only while the engine CLI is missing
    _quote_app = None
    _QUOTE_CLI_ERROR: str | None = str(_exc)
else:
    _QUOTE_CLI_ERROR = None
    app.registered_commands.extend(_quote_app.registered_commands)
    app.registered_groups.extend(_quote_app.registered_groups)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys and organisations (admin bootstrap).", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
app.add_typer(demo_app, name="demo")


def _err(message: str) -> None:
    sys.stderr.write(message.rstrip() + "\n")


@contextmanager
def _typed_errors() -> Iterator[None]:
    try:
        yield
    except MitsumoriError as exc:
        _err(f"error: {exc.code}: {exc.message}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the HTTP API (uvicorn). Settings come from MITSUMORI_* environment variables."""
    import uvicorn

    from platform_api.db.engine import make_engine
    from platform_api.db.migrate import upgrade
    from platform_api.settings import Settings

    settings = Settings()
    if settings.run_migrations:  # once here, so the workers do not queue on the migration lock
        engine = make_engine(settings.effective_database_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    # Our access lines (route template, status, time, organisation; never keys or bodies).
    log_config["loggers"]["mitsumori"] = {
        "handlers": ["default"],
        "level": settings.log_level,
        "propagate": False,
    }
    uvicorn.run(
        "platform_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=log_config,
        access_log=False,  # uvicorn's would duplicate ours, with full paths and query strings
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Apply the database migrations (the API also does this at start)."""
    from platform_api.db.engine import make_engine
    from platform_api.db.migrate import current_revision, upgrade
    from platform_api.settings import Settings

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine, revision)
        typer.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key (e.g. for MITSUMORI_ADMIN_BOOTSTRAP_KEY); stores nothing."""
    from platform_api.security import generate_key

    typer.echo(generate_key()[0])


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option("--org", help="Organisation id, or a name to create one")],
    kind: Annotated[
        str, typer.Option(help="Kind of a new organisation: admin, shop or buyer")
    ] = "admin",
    name: Annotated[str, typer.Option(help="What the key is for")] = "cli",
    read_only: Annotated[bool, typer.Option(help="Only the 'read' scope")] = False,
) -> None:
    """Create an API key (and the organisation if --org is not an existing id); prints it once."""
    from platform_api.db.engine import make_engine
    from platform_api.db.migrate import upgrade
    from platform_api.db.session import Database
    from platform_api.orgs import repository, service
    from platform_api.orgs.schemas import ApiKeyCreate, OrganizationCreate
    from platform_api.settings import Settings

    if kind not in ("admin", "shop", "buyer"):
        _err("error: invalid_request: --kind must be admin, shop or buyer")
        raise typer.Exit(2)
    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        db = Database(engine)
        with _typed_errors(), db.session() as session:
            found = repository.get_org(session, org)
            if found is None:
                found = service.create_org(
                    session=session,
                    body=OrganizationCreate(name=org, kind=kind),  # type: ignore[arg-type]
                )
            scopes = ["read"] if read_only else ["read", "write"]
            row, key = service.create_key(
                session=session,
                org_id=found.id,
                body=ApiKeyCreate(name=name, scopes=scopes),  # type: ignore[arg-type]
            )
            org_id, org_kind, key_id = found.id, found.kind, row.id
    finally:
        engine.dispose()
    _err(f"organization {org_id} ({org_kind}); key {key_id}. The key is shown only once:")
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="Key id (key_...)")]) -> None:
    """Revoke an API key."""
    from platform_api.db.engine import make_engine
    from platform_api.db.session import Database
    from platform_api.orgs import service
    from platform_api.settings import Settings

    engine = make_engine(Settings().effective_database_url)
    try:
        with _typed_errors(), Database(engine).session() as session:
            service.revoke_key(session=session, key_id=key_id)
    finally:
        engine.dispose()
    typer.echo(f"revoked {key_id}")


@jobs_app.command("run")
def jobs_run() -> None:
    """Run every queued job in the foreground, then exit (no API needed)."""
    from platform_api.analyzer import Analyzer
    from platform_api.context import AppContext
    from platform_api.db.engine import make_engine
    from platform_api.db.migrate import upgrade
    from platform_api.db.session import Database
    from platform_api.jobs.worker import JobWorker
    from platform_api.metrics import Metrics
    from platform_api.settings import Settings
    from platform_api.shops.jobs import HANDLERS
    from platform_api.shops.model_store import ModelStore

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    analyzer = Analyzer(settings.analysis_workers, max_bytes=settings.max_upload_bytes)
    try:
        upgrade(engine)
        ctx = AppContext(
            settings=settings,
            db=Database(engine),
            analyzer=analyzer,
            models=ModelStore(),
            metrics=Metrics(),
        )
        done = JobWorker(ctx, HANDLERS, name="cli").run_until_empty()
    finally:
        analyzer.close()
        engine.dispose()
    typer.echo(f"{len(done)} job(s) run")


@demo_app.command("seed")
def demo_seed(
    shops: Annotated[int, typer.Option(min=1, help="Shops to create")] = 5,
    rows: Annotated[int, typer.Option(min=50, help="History rows per shop")] = 80,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing if the database has organisations")
    ] = False,
) -> None:
    """Seed demo data: shops with machines, histories and trained models, buyers, API keys."""
    from platform_api.demo import seed_demo

    with _typed_errors():
        seed_demo(n_shops=shops, rows_per_shop=rows, seed=seed, if_empty=if_empty, echo=typer.echo)


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # python -m platform_api.cli
    app()
