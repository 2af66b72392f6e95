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
from typing import TYPE_CHECKING, Annotated, Any, TypeGuard

import typer

from quote.errors import MitsumoriError

if TYPE_CHECKING:  # imported inside the commands at run time, so the CLI starts fast
    from platform_api.db.session import Database
    from platform_api.orgs.schemas import OrgKind, Scope
    from platform_api.settings import Settings

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
    _QUOTE_CLI_ERROR: str | None = str(_exc)
else:
    _QUOTE_CLI_ERROR = None
    app.registered_commands.extend(_quote_app.registered_commands)
    app.registered_groups.extend(_quote_app.registered_groups)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys and organisations (admin bootstrap).", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
ingest_app = typer.Typer(help="Machine data from MTConnect agents and MQTT.", no_args_is_help=True)
ranker_app = typer.Typer(help="The default supplier ranker.", no_args_is_help=True)
mqtt_app = typer.Typer(help="The MQTT broker's users and ACL.", no_args_is_help=True)
cache_app = typer.Typer(help="Derived caches: shop profiles, machine loads.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
app.add_typer(demo_app, name="demo")
app.add_typer(ingest_app, name="ingest")
app.add_typer(ranker_app, name="ranker")
app.add_typer(mqtt_app, name="mqtt")
app.add_typer(cache_app, name="cache")

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


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
    graceful_seconds: Annotated[
        float, typer.Option(min=0, help="On SIGTERM/SIGINT, wait this long for open requests")
    ] = 10.0,
    job_process: Annotated[
        bool,
        typer.Option(
            help="Run jobs and the cache refresher in a `mitsumori worker` child process "
            "(stopped with the server), so a long import never slows the API; off: in a thread "
            "of each API process"
        ),
    ] = True,
) -> None:
    """Run the HTTP API (uvicorn). Settings come from MITSUMORI_* environment variables."""
    import os

    from platform_api.db.engine import make_engine
    from platform_api.db.migrate import upgrade
    from platform_api.settings import Settings

    # The MQTT subscriber is on by default when serving (off in tests and other commands);
    # MITSUMORI_MQTT_URL="" turns it off. Set in the environment so every worker sees it.
    os.environ.setdefault("MITSUMORI_MQTT_URL", DEFAULT_MQTT_URL)
    settings = Settings()
    if settings.run_migrations:  # once here, so the workers do not queue on the migration lock
        engine = make_engine(settings.effective_database_url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    child = None
    if job_process and settings.job_worker:
        child = _start_worker()
        os.environ["MITSUMORI_JOB_WORKER"] = "0"  # the API processes leave jobs to the child
    try:
        _run_uvicorn(settings, host, port, workers, log_level, graceful_seconds)
    finally:
        if child is not None:
            _stop_child(child, timeout=graceful_seconds + 20)


def _start_worker() -> Any:
    """``mitsumori worker`` as a child that gets SIGTERM if this process dies (Linux)."""
    import signal
    import subprocess

    def die_with_parent() -> None:
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # not Linux: stopped by _stop_child only
            pass

    return subprocess.Popen(
        [sys.executable, "-m", "platform_api.cli", "worker"], preexec_fn=die_with_parent
    )


def _stop_child(child: Any, *, timeout: float) -> None:
    import subprocess

    child.terminate()
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _run_uvicorn(
    settings: Any, host: str, port: int, workers: int, log_level: str, graceful_seconds: float
) -> None:
    import uvicorn

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
        # then the lifespan stops the job worker, the MQTT subscriber and the analysis workers
        # uvicorn annotates it int but only hands it to asyncio.timeout(), which takes a float
        timeout_graceful_shutdown=graceful_seconds,  # type: ignore[arg-type]  # a float works
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


def _is_org_kind(value: str) -> TypeGuard[OrgKind]:
    return value in ("admin", "shop", "buyer")


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

    if not _is_org_kind(kind):
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
                    body=OrganizationCreate(name=org, kind=kind),
                )
            scopes: list[Scope] = ["read"] if read_only else ["read", "write"]
            row, key = service.create_key(
                session=session,
                org_id=found.id,
                body=ApiKeyCreate(name=name, scopes=scopes),
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


@app.command()
def worker() -> None:
    """Run queued jobs (history imports, training) and the cache refresher until SIGTERM or
    SIGINT; `mitsumori serve` starts one. Several may run against one database (jobs are
    claimed in SQL)."""
    import logging
    import signal
    import threading

    from platform_api.analyzer import Analyzer
    from platform_api.caches.refresher import CacheRefresher
    from platform_api.context import AppContext
    from platform_api.db.engine import make_engine
    from platform_api.db.session import Database
    from platform_api.jobs.worker import JobWorker
    from platform_api.metrics import Metrics
    from platform_api.settings import Settings
    from platform_api.shops.jobs import HANDLERS
    from platform_api.shops.model_store import ModelStore

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    engine = make_engine(settings.effective_database_url)
    analyzer = Analyzer.from_settings(settings)
    db = Database(engine)
    ctx = AppContext(
        settings=settings, db=db, analyzer=analyzer, models=ModelStore(), metrics=Metrics()
    )
    threads: list[Any] = [JobWorker(ctx, HANDLERS, name="worker")]
    if settings.cache_refresh_seconds > 0:
        threads.append(CacheRefresher(db, ctx.models, interval=settings.cache_refresh_seconds))
    try:
        for t in threads:
            t.start()
        stop.wait()
    finally:
        for t in threads:
            t.stop()
        analyzer.close()
        engine.dispose()


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
    analyzer = Analyzer.from_settings(settings)
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


@contextmanager
def _database() -> Iterator[tuple[Settings, Database]]:
    """Settings and a migrated ``Database`` from the environment (closed afterwards)."""
    from platform_api.db.engine import make_engine
    from platform_api.db.migrate import upgrade
    from platform_api.db.session import Database
    from platform_api.settings import Settings

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
        yield settings, Database(engine)
    finally:
        engine.dispose()


@ingest_app.command("mtconnect")
def ingest_mtconnect(
    agent: Annotated[str, typer.Option(help="Agent root URL, e.g. http://agent:5000")],
    shop: Annotated[str, typer.Option(help="Shop id (org_...) the agent's machines belong to")],
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between polls")] = 2.0,
    count: Annotated[int, typer.Option(min=1, help="Observations per /sample request")] = 1000,
    fmt: Annotated[str, typer.Option("--format", help="xml, or json (cppagent 2.x)")] = "xml",
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop when a sample brings nothing new")
    ] = False,
    max_polls: Annotated[int | None, typer.Option(min=1, help="Stop after N polls")] = None,
    max_failures: Annotated[
        int | None, typer.Option(min=1, help="Stop after N failed polls in a row")
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds a whole request may take (redirects too)")
    ] = 30.0,
) -> None:
    """Poll an MTConnect agent: devices become machines, state observations become events.

    Resumes from the sequence stored for this agent and shop; handles agent restarts. A failing
    agent is retried with exponential backoff; GET /v1/shops/{id}/mtconnect-agents shows how it
    stands."""
    import signal
    import threading

    from platform_api.ingest.agent_http import AgentHttp, HttpLimits
    from platform_api.ingest.mtconnect import MTConnectIngest

    if fmt not in ("xml", "json"):
        _err("error: invalid_request: --format must be xml or json")
        raise typer.Exit(2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fetch = AgentHttp(HttpLimits(total_timeout=timeout, read_timeout=min(10.0, timeout)))
    with _typed_errors(), _database() as (_settings, db):
        run = MTConnectIngest(
            db,
            None,
            agent_url=agent,
            shop_id=shop,
            fetch=fetch,
            fmt=fmt,
            count=count,
        )
        machines = run.setup()
        typer.echo(
            f"{len(machines)} device(s): " + ", ".join(f"{u} -> {m}" for u, m in machines.items())
        )
        try:
            totals = run.run(
                interval=interval, max_polls=max_polls, max_failures=max_failures,
                until_idle=until_idle, stop=stop, echo=typer.echo,
            )  # fmt: skip
        except KeyboardInterrupt:
            totals = run.totals
    typer.echo(
        f"{totals.polls} poll(s): {totals.accepted} events stored, {totals.duplicates} duplicates, "
        f"{totals.rejected} rejected, {totals.restarts} agent restart(s), {totals.lost} lost, "
        f"{totals.resyncs} resync(s), {totals.errors} failed poll(s)"
    )


@ingest_app.command("mqtt")
def ingest_mqtt(
    url: Annotated[
        str | None, typer.Option(help="Broker URL (default MITSUMORI_MQTT_URL or local)")
    ] = None,
) -> None:
    """Subscribe to {prefix}/{shop}/{machine}/state and store what arrives (until Ctrl-C)."""
    import signal
    import threading

    from platform_api.ingest.mqtt import MqttIngest
    from platform_api.metrics import Metrics

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with _database() as (settings, db):
        sub = MqttIngest(
            db,
            Metrics(),
            url=url or settings.mqtt_url or DEFAULT_MQTT_URL,
            prefix=settings.mqtt_prefix,
            client_id=settings.mqtt_client_id,
        )
        sub.start()
        typer.echo(f"subscribed to {sub.topic} on {sub.address.host}:{sub.address.port}")
        try:
            while not stop.wait(10):
                typer.echo(f"messages: {dict(sub.stats)}")
        except KeyboardInterrupt:
            pass
        finally:
            sub.stop()


@mqtt_app.command("config")
def mqtt_config(
    out: Annotated[str, typer.Option(help="Directory for mosquitto.conf, passwd and acl")],
    port: Annotated[int, typer.Option(min=1, max=65535, help="Listener port")] = 1883,
    host: Annotated[str, typer.Option(help="Listener address")] = "127.0.0.1",
) -> None:
    """Write a Mosquitto config from the database: a user per shop (its own topics only), the
    platform's subscriber user, no anonymous access. Re-run when shops are added, then send
    the broker SIGHUP (`mosquitto -c DIR/mosquitto.conf` runs it)."""
    from pathlib import Path

    from platform_api.ingest.broker import INGEST_USER, mqtt_password, shop_ids, write_config
    from platform_api.web.session import secret_key

    with _database() as (settings, db):
        secret = secret_key(settings)
        shops = shop_ids(db)
        files = write_config(
            Path(out), secret=secret, shops=shops, prefix=settings.mqtt_prefix,
            port=port, host=host,
        )  # fmt: skip
    typer.echo(f"wrote {files.conf}, {files.passwd} and {files.acl} ({len(shops)} shop users)")
    typer.echo(
        f"subscriber: MITSUMORI_MQTT_URL=mqtt://{INGEST_USER}:{mqtt_password(secret, INGEST_USER)}"
        f"@{host}:{port}"
    )


@demo_app.command("publish")
def demo_publish(
    url: Annotated[str | None, typer.Option(help="Broker URL")] = None,
    seconds: Annotated[float, typer.Option(min=0.1, help="Mean seconds between reports")] = 3.0,
    rounds: Annotated[int | None, typer.Option(min=1, help="Stop after N rounds")] = None,
) -> None:
    """Publish live states of every demo machine over MQTT (what `make run` does in serve)."""
    import time

    from platform_api.ingest.publisher import DemoPublisher

    with _database() as (settings, db):
        pub = DemoPublisher(
            db,
            url=url or settings.mqtt_url or DEFAULT_MQTT_URL,
            prefix=settings.mqtt_prefix,
            mean_seconds=seconds,
        )
        if rounds is not None:  # a fixed number of rounds in this thread, then exit
            pub.connect()
            pub.refresh()
            time.sleep(1.0)  # let the connection come up (paho queues meanwhile)
            for _ in range(rounds):
                pub.publish_round()
                time.sleep(seconds)
            pub.stop()
            typer.echo(f"{pub.published} reports published for {len(pub.machines)} machines")
            return
        pub.start()
        try:
            while True:
                time.sleep(10)
                typer.echo(f"{pub.published} reports published")
        except KeyboardInterrupt:
            pass
        finally:
            pub.stop()


@ranker_app.command("build")
def ranker_build(
    out: Annotated[str | None, typer.Option(help="Where to write it (default: settings)")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated market")] = 0,
) -> None:
    """Train the default supplier ranker on the seeded market simulator (about 5 s) and save it."""
    from pathlib import Path

    from platform_api.matches.ranker import build_ranker
    from platform_api.settings import Settings

    path = Path(out) if out else Settings().ranker_path
    ranker = build_ranker(path, random_state=seed)
    metrics = getattr(ranker, "metrics_", {}) or {}
    typer.echo(
        f"ranker {getattr(ranker, 'version_', '')} -> {path} "
        f"(NDCG@5 held-out {metrics.get('ndcg5_test', float('nan')):.3f})"
    )


@cache_app.command("refresh")
def cache_refresh() -> None:
    """Rebuild every out-of-date shop profile and machine load now (the server does it every
    ``MITSUMORI_CACHE_REFRESH_SECONDS``); reads never write them."""
    from platform_api.caches.refresher import refresh_all
    from platform_api.shops.model_store import ModelStore

    with _typed_errors(), _database() as (_, db):
        report = refresh_all(db, models=ModelStore())
    typer.echo(
        f"{report.profiles} profile(s), {report.loads} machine load(s) refreshed, "
        f"{report.history_rows} history row(s) read"
    )
    if report.failed:
        _err(f"error: refresh_failed: shops {', '.join(report.failed)} failed (see the log)")
        raise typer.Exit(2)


def main() -> None:
    """The ``mitsumori`` entry point: one-line errors, exit code 2 for usage mistakes."""
    from quote.cli import main as run

    run(app)


if __name__ == "__main__":  # python -m platform_api.cli
    main()
