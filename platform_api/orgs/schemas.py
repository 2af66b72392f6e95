"""Request and response bodies for organisations and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import JsonDict

OrgKind = Literal["shop", "buyer", "admin"]
Scope = Literal["read", "write"]

_ORG_EXAMPLE: JsonDict = {
    "name": "Kawasaki Precision Works",
    "kind": "shop",
    "city": "Kawasaki",
    "country": "JP",
    "latitude": 35.5308,
    "longitude": 139.7029,
    "certifications": ["ISO 9001", "AS9100"],
}
_ORG_PUBLIC_EXAMPLE: JsonDict = {
    "id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    **_ORG_EXAMPLE,
    "created_at": "2025-01-15T09:30:00Z",
}


class OrganizationBase(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    city: str | None = Field(default=None, max_length=120)
    country: str | None = Field(
        default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2"
    )
    latitude: float | None = Field(default=None, ge=-90, le=90, description="degrees WGS84")
    longitude: float | None = Field(default=None, ge=-180, le=180, description="degrees WGS84")
    certifications: list[str] = Field(
        default_factory=list, max_length=20, description="e.g. ISO 9001, AS9100, IATF 16949"
    )

    @field_validator("certifications")
    @classmethod
    def _certs(cls, value: list[str]) -> list[str]:
        cleaned = [c.strip() for c in value]
        if any(not c or len(c) > 64 for c in cleaned):
            raise ValueError("each certification is 1 to 64 characters")
        return cleaned

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and not value.isalpha():
            raise ValueError("country is a two-letter ISO 3166-1 code such as JP")
        return value.upper() if value else value


class OrganizationCreate(OrganizationBase):
    model_config = ConfigDict(json_schema_extra={"examples": [_ORG_EXAMPLE]})


class OrganizationPublic(OrganizationBase):
    id: str
    created_at: datetime
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [_ORG_PUBLIC_EXAMPLE]},
    )


class ShopPublic(BaseModel):
    """A shop as every key sees it in the directory (no private figures)."""

    id: str
    name: str
    city: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    certifications: list[str]
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    **{k: v for k, v in _ORG_EXAMPLE.items() if k != "kind"},
                }
            ]
        },
    )


def _all_scopes() -> list[Scope]:
    return ["read", "write"]


class ApiKeyCreate(BaseModel):
    name: str = Field(default="", max_length=200, description="What the key is for")
    scopes: list[Scope] = Field(default_factory=_all_scopes, min_length=1)
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "ERP integration", "scopes": ["read", "write"]}]}
    )


_KEY_EXAMPLE: JsonDict = {
    "id": "key_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "org_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "name": "ERP integration",
    "prefix": "k3j9x0a1b2",
    "role": "shop",
    "scopes": ["read", "write"],
    "created_at": "2025-01-15T09:30:00Z",
    "revoked_at": None,
    "last_used_at": None,
}


class ApiKeyPublic(BaseModel):
    """An API key without its secret."""

    id: str
    org_id: str
    name: str
    prefix: str
    role: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_KEY_EXAMPLE]})


class ApiKeyCreated(ApiKeyPublic):
    """A new key: ``key`` is shown this once and never stored in clear."""

    key: str
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_KEY_EXAMPLE, "key": "mk_k3j9x0a1b2_7sQk...43 characters..."}]
        }
    )


class Me(BaseModel):
    """The calling key and its organisation."""

    organization: OrganizationPublic
    key: ApiKeyPublic
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"organization": _ORG_PUBLIC_EXAMPLE, "key": _KEY_EXAMPLE}]}
    )
