"""Plain functions that make test data: organisations with keys, small real part files."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import trimesh

from platform_api.context import AppContext
from platform_api.orgs import service
from platform_api.orgs.schemas import ApiKeyCreate, OrganizationCreate


@dataclass(frozen=True)
class Org:
    """An organisation and one API key of it."""

    id: str
    kind: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_org(
    ctx: AppContext,
    kind: str,
    *,
    name: str | None = None,
    scopes: tuple[str, ...] = ("read", "write"),
) -> Org:
    """A new organisation of ``kind`` with a key (written through the app's session factory)."""
    with ctx.db.session() as session:
        org = service.create_org(
            session=session,
            body=OrganizationCreate(name=name or f"{kind} co", kind=kind),  # type: ignore[arg-type]
        )
        row, key = service.create_key(
            session=session,
            org_id=org.id,
            body=ApiKeyCreate(name="test", scopes=list(scopes)),  # type: ignore[arg-type]
        )
        return Org(id=org.id, kind=kind, key=key, key_id=row.id)


def add_key(ctx: AppContext, org: Org, *, scopes: tuple[str, ...] = ("read", "write")) -> Org:
    """Another key of ``org``."""
    with ctx.db.session() as session:
        row, key = service.create_key(
            session=session,
            org_id=org.id,
            body=ApiKeyCreate(name="extra", scopes=list(scopes)),  # type: ignore[arg-type]
        )
        return Org(id=org.id, kind=org.kind, key=key, key_id=row.id)


def stl_box(x: float = 40.0, y: float = 30.0, z: float = 10.0) -> bytes:
    """A binary STL of an x * y * z mm block (a real, watertight part)."""
    data = trimesh.creation.box(extents=(x, y, z)).export(file_type="stl")
    assert isinstance(data, bytes)
    return data


def stl_plate_with_hole(x: float, y: float, z: float, d: float) -> bytes:
    """A plate with one through hole of diameter ``d`` mm in its middle (manifold boolean)."""
    plate = trimesh.creation.box(extents=(x, y, z))
    hole = trimesh.creation.cylinder(radius=d / 2, height=z * 2, sections=48)
    data = plate.difference(hole).export(file_type="stl")
    assert isinstance(data, bytes)
    return data


def upload(client: Any, org: Org, data: bytes, name: str = "part.stl", **form: str) -> Any:
    """POST /v1/parts; the response."""
    return client.post(
        "/v1/parts", files={"file": (name, data)}, data=form or None, headers=org.headers
    )


def history_zip(files: dict[str, bytes]) -> bytes:
    """A zip of part files, name -> bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


# A made-up shop's pricing (its own form, not the engine's): JPY per piece from the part's
# bounding-box volume, material, finish and quantity. Only for generating plausible histories.
_MATERIAL_FACTOR = {"A5052": 1.0, "A6061": 1.05, "S45C": 1.3, "SUS304": 1.8}
_FINISH_ADD = {"none": 0.0, "anodize": 600.0}


def history_dataset(
    n_parts: int, rows_per_part: int, *, seed: int = 0
) -> tuple[list[list[str]], dict[str, bytes]]:
    """CSV rows (header first) and part files (name -> STL bytes) of a synthetic shop history.

    Parts come from the engine's generated corpus (real meshes with pockets and holes).
    """
    import numpy as np

    from quote.corpus import generate_corpus

    rng = np.random.default_rng(seed)
    rows = [["part_file", "material", "quantity", "tolerance", "finish", "unit_price",
             "lead_time_days"]]  # fmt: skip
    files: dict[str, bytes] = {}
    for name, mesh in generate_corpus(n_parts, random_state=seed):
        data = mesh.export(file_type="stl")
        assert isinstance(data, bytes)
        files[f"parts/{name}.stl"] = data
        box = float(np.prod(mesh.extents))
        for _ in range(rows_per_part):
            material = str(rng.choice(list(_MATERIAL_FACTOR)))
            finish = "anodize" if material in ("A5052", "A6061") and rng.random() < 0.4 else "none"
            qty = int(rng.choice([1, 2, 5, 10, 20, 50]))
            unit = (4000 + 0.09 * box**0.85) * _MATERIAL_FACTOR[material] * qty**-0.25
            unit = round(unit + _FINISH_ADD[finish], -1)
            lead = 3 + int(round(np.log10(box))) + (2 if finish != "none" else 0)
            rows.append([f"parts/{name}.stl", material, str(qty), "ISO2768-m", finish,
                         str(unit), str(lead)])  # fmt: skip
    return rows, files


def csv_bytes(rows: list[list[str]]) -> bytes:
    import csv

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()
