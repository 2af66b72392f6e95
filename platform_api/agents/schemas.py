"""How an MTConnect agent's poller stands, as the API shows it (times UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AgentPublic(BaseModel):
    """One agent of the calling shop: where its poller stands and how it has fared."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "mta_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "base_url": "http://192.0.2.10:5000",
                    "status": "backing_off",
                    "last_error": "agent_timeout: no answer within 10 s",
                    "last_error_at": "2026-12-07T09:14:05Z",
                    "last_success_at": "2026-12-07T09:12:58Z",
                    "last_poll_at": "2026-12-07T09:14:05Z",
                    "next_attempt_at": "2026-12-07T09:14:09Z",
                    "instance_id": "1701234567",
                    "next_sequence": 48213,
                    "polls": 1290,
                    "failures": 3,
                    "consecutive_failures": 1,
                    "timeouts": 2,
                    "resyncs": 1,
                    "events": 9120,
                    "restarts": 0,
                    "lost": 0,
                }
            ]
        }
    )

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
