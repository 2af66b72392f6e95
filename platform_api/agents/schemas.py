"""How an MTConnect agent's poller stands, as the API shows it (times UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class AgentPublic(BaseModel):
    """One agent of the calling shop: where its poller stands and how it has fared."""

    id: str
    base_url: str
    status: Literal["ok", "backing_off", "error"] = Field(
        description="ok: the last poll succeeded; backing_off: it failed and the next attempt is "
        "at next_attempt_at; error: it failed and no attempt is scheduled (the ingest stopped)"
    )
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    last_poll_at: datetime | None = Field(description="the last attempt, failed or not")
    next_attempt_at: datetime | None
    instance_id: str | None = Field(description="the agent instance its sequences belong to")
    next_sequence: int | None
    polls: int = Field(description="successful polls")
    failures: int = Field(description="failed polls, timeouts included")
    consecutive_failures: int
    timeouts: int = Field(description="polls cut off by a connect, read or total time limit")
    resyncs: int = Field(
        description="fresh /current reads because a /sample's sequence numbers made no sense"
    )
    events: int = Field(description="events stored from this agent")
    restarts: int = Field(description="agent restarts seen (new instanceId)")
    lost: int = Field(description="observations that left the agent's buffer before being read")
