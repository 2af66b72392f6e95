"""Schemas shared by every domain: the error body and the documented error responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every error: a stable code, a message a person can act on, and details."""

    error: str = Field(examples=["unknown_material"])
    message: str = Field(examples=["unknown material 'unobtainium'; accepted: A5052, A6061, ..."])
    detail: dict[str, Any] = Field(default_factory=dict)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "error": "not_found",
                    "message": "no part part_0193b1c2d3e4f5a6b7c8d9e0f1a2 (or it is not yours)",
                    "detail": {"part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2"},
                }
            ]
        }
    }


def error_doc(description: str, code: str, message: str) -> dict[str, Any]:
    return {
        "model": ErrorBody,
        "description": description,
        "content": {
            "application/json": {"example": {"error": code, "message": message, "detail": {}}}
        },
    }


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error_doc("No API key, or an invalid or revoked one.", "unauthorized", "invalid API key"),
    403: error_doc("The key's role or scope may not do this.", "forbidden", "a buyer key may not"),
    422: error_doc("Malformed or invalid request.", "invalid_request", "body.quantity: too small"),
    429: error_doc("Rate limit of the key exceeded.", "rate_limited", "rate limit exceeded"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: error_doc("No such row, or it is not yours.", "not_found", "no such row (or not yours)")
}
