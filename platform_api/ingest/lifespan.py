"""What the machine-data side adds to the app: its routers, and the services its lifespan
starts (the ranker warm-up, the MQTT subscriber, the demo publisher) and stops."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter

from platform_api.agents.routes import router as agents_router
from platform_api.capacity.routes import router as capacity_router
from platform_api.context import AppContext
from platform_api.matches.ranker import RankerStore
from platform_api.matches.routes import router as matches_router
from platform_api.profiles.routes import router as profiles_router
from platform_api.rfqs.routes import router as rfqs_router

if TYPE_CHECKING:
    from platform_api.ingest.broker import ManagedBroker

log = logging.getLogger("mitsumori.api")

ROUTERS: tuple[APIRouter, ...] = (
    capacity_router,
    profiles_router,
    matches_router,
    rfqs_router,
    agents_router,
)


def start_machine_services(ctx: AppContext) -> None:
    """Attach the ranker store (loading or training it in the background) and start the MQTT
    subscriber and demo publisher when the settings ask; each goes in ``ctx.workers``, whose
    ``stop()`` the lifespan calls at shutdown."""
    settings = ctx.settings
    ctx.ranker = RankerStore(settings.ranker_path)
    ctx.ranker.warm_up()
    url = settings.mqtt_url
    broker = start_managed_broker(ctx) if settings.mqtt_managed_port else None
    if broker is not None:
        url = broker.ingest_url
        ctx.workers.append(broker)  # stopped last: the subscriber drains into it first
    if not url:
        return
    from platform_api.ingest.mqtt import MqttIngest

    subscriber = MqttIngest(
        ctx.db,
        ctx.metrics,
        url=url,
        prefix=settings.mqtt_prefix,
        client_id=settings.mqtt_client_id,
        max_bytes=settings.mqtt_max_message_bytes,
    )
    subscriber.start()
    ctx.workers.insert(len(ctx.workers) - (broker is not None), subscriber)
    log.info(
        "MQTT subscriber started on %s:%d (%s/+/+/state)",
        subscriber.address.host,
        subscriber.address.port,
        settings.mqtt_prefix,
    )
    if settings.demo_publisher:
        from platform_api.ingest.publisher import DemoPublisher

        publisher = DemoPublisher(
            ctx.db,
            url=url,
            prefix=settings.mqtt_prefix,
            mean_seconds=settings.demo_publish_seconds,
            password_of=broker.password_of if broker is not None else None,
        )
        publisher.start()
        ctx.workers.insert(ctx.workers.index(subscriber), publisher)  # stops before it
        log.info("demo publisher started: the demo machines report live over MQTT")


def start_managed_broker(ctx: AppContext) -> ManagedBroker | None:
    """Mosquitto as a child of this server with the generated ACL
    (``MITSUMORI_MQTT_MANAGED_PORT``), or None (with a warning) when mosquitto is not installed
    or does not start: then the subscriber uses ``MITSUMORI_MQTT_URL`` as before."""
    from platform_api.ingest.broker import ManagedBroker, mosquitto_binary, shop_ids
    from platform_api.web.session import secret_key

    settings = ctx.settings
    if mosquitto_binary() is None:
        log.warning("mosquitto is not installed: no managed broker; MQTT: %s", settings.mqtt_url)
        return None
    assert settings.mqtt_managed_port is not None
    broker = ManagedBroker(
        settings.data_dir / "mosquitto",
        secret=secret_key(settings),
        prefix=settings.mqtt_prefix,
        port=settings.mqtt_managed_port,
        shops=lambda: shop_ids(ctx.db),
    )
    try:
        broker.start()
    except (OSError, RuntimeError) as err:
        log.warning("the managed MQTT broker did not start (%s): MQTT from %s", err,
                    settings.mqtt_url)  # fmt: skip
        broker.stop()
        return None
    return broker
