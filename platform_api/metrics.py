"""Prometheus metrics, one registry per app (so tests can build many apps in one process).

Each ``serve`` worker process exposes its own figures on ``/metrics``; scrape every process, or
set ``PROMETHEUS_MULTIPROC_DIR`` for prometheus_client's multi-process mode.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """The platform's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "mitsumori_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.quotes = Counter(
            "mitsumori_quotes_total",
            "Quotes made, by model kind (default or shop).",
            ["model"],
            registry=self.registry,
        )
        self.parts = Counter(
            "mitsumori_parts_ingested_total",
            "Part files received, by source format and outcome (ok, rejected, duplicate).",
            ["format", "outcome"],
            registry=self.registry,
        )
        self.analysis_seconds = Histogram(
            "mitsumori_part_analysis_seconds",
            "Time to analyse an uploaded part file.",
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.jobs = Counter(
            "mitsumori_jobs_total",
            "Jobs finished, by kind and final status.",
            ["kind", "status"],
            registry=self.registry,
        )
        self.history_rows = Counter(
            "mitsumori_history_rows_total",
            "History CSV rows processed by import jobs, by outcome (imported, rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.machine_events = Counter(
            "mitsumori_machine_events_total",
            "Machine events received, by source (rest, mqtt, mtconnect, shdr) and outcome "
            "(accepted, duplicate, rejected).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.mqtt_messages = Counter(
            "mitsumori_mqtt_messages_total",
            "MQTT messages on the machine state topics, by outcome (stored, rejected, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.mtconnect_polls = Counter(
            "mitsumori_mtconnect_polls_total",
            "MTConnect agent polls, by outcome (current, sample, agent_restarted, unreachable, "
            "invalid).",
            ["outcome"],
            registry=self.registry,
        )
        self.matches = Counter(
            "mitsumori_matches_total",
            "Match requests answered, by kind (match, batch, partners).",
            ["kind"],
            registry=self.registry,
        )
