"""What the machine-data side adds to the app: its routers, and the services its lifespan
starts (the ranker warm-up, the MQTT subscriber, the demo publisher) and stops."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from platform_api.agents.routes import router as agents_router
from platform_api.capacity.routes import router as capacity_router
from platform_api.context import AppContext
from platform_api.matches.ranker import RankerStore
from platform_api.matches.routes import router as matches_router
from platform_api.profiles.routes import router as profiles_router
from platform_api.rfqs.routes import router as rfqs_router

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
    if not settings.mqtt_url:
        return
    from platform_api.ingest.mqtt import MqttIngest

    subscriber = MqttIngest(
        ctx.db,
        ctx.metrics,
        url=settings.mqtt_url,
        prefix=settings.mqtt_prefix,
        client_id=settings.mqtt_client_id,
    )
    subscriber.start()
    ctx.workers.append(subscriber)
    log.info(
        "MQTT subscriber started on %s (%s/+/+/state)", settings.mqtt_url, settings.mqtt_prefix
    )
    if settings.demo_publisher:
        from platform_api.ingest.publisher import DemoPublisher

        publisher = DemoPublisher(
            ctx.db,
            url=settings.mqtt_url,
            prefix=settings.mqtt_prefix,
            mean_seconds=settings.demo_publish_seconds,
        )
        publisher.start()
        ctx.workers.append(publisher)
        log.info("demo publisher started: the demo machines report live over MQTT")
