"""MTConnect agent documents and SHDR adapter text, turned into machines and ``MachineEvent``s.

Parsers are namespace-agnostic (MTConnect 1.1 to 2.x only differ in the namespace URI for what
we read) and accept the agent's JSON (cppagent ``jsonVersion`` 1 and 2, and the lower-case
``streams/componentStream/events`` form of other agents) as well as XML.

- ``document``: what every agent document shares: the guarded XML/JSON readers, the ``Header``
  (instanceId, sequences) and the state vocabulary (observation element -> event field).
- ``probe.parse_probe``: devices -> ``DeviceInfo`` (uuid, name, axes with their LENGTH
  specification, the travel envelope, a machine class guessed from the axes, the data items).
- ``streams.parse_streams``: ``/current`` or ``/sample`` -> header, every observation, and the
  state events (Availability, Execution, ControllerMode, FunctionalMode, PartCount, Program) as
  ``MachineEvent``s with ``event_id = "mtc:{instanceId}:{sequence}"``.
- ``shdr.parse_shdr``: adapter lines ``timestamp|key|value|key|value...`` -> events.
- ``poller.MTConnectPoller``: polls ``/probe``, ``/current``, ``/sample?from=`` through an
  injected ``fetch(url) -> bytes`` (this package does no I/O itself), checks the sequence
  numbers it is given, and keeps the agent's health (``health``: ok / backing_off / error, with
  an exponential backoff with seeded jitter).
"""
