"""Capability profiles, capacity and supplier ranking. Pure Python: no web or DB.

Modules (one concern each):

- ``events``: the normalised ``MachineEvent``, ``derive_state`` (SEMI E10 style), timestamp
  and JSON parsing.
- ``event_log``: ``EventLog`` (idempotent, order-independent ingest with counted rejections)
  and ``dedupe_events``.
- ``mqtt_messages``: MQTT state topics and messages, size and depth checked before parsing.
- ``mtconnect``: probe / current / sample documents (XML and JSON), SHDR adapter text, and
  ``MTConnectPoller`` (resumable by sequence, resets on a new agent instance; fetch injected).
- ``capacity``: state timelines, learned hour-of-week load with staleness decay, working
  calendars and bookings, spare hours per day, per-shop/class aggregation, forecast error.
- ``profiles``: shop capability profiles folded from quotes and outcomes.
- ``ranking``: a package, one module per step: ``index`` (``Rfq``, ``ShopIndex``), ``filters``,
  ``features``, ``estimator`` (``LambdaRanker``, LightGBM), ``exposure``, ``reasons``, and
  ``match`` (``rank`` / ``partners_for``).
- ``assignment``: many RFQs across shops under capacity (exact, SciPy).
- ``simulate``: the seeded marketplace simulator (shops, RFQs, outcomes).
- ``ranker_training``: ``train_default_ranker`` on the simulated market.
- ``simulate_machines``: simulated machine events for demos and capacity tests.
- ``errors``: typed errors (subclasses of ``quote.errors.MitsumoriError``).
"""
