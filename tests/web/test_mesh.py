"""``GET /v1/parts/{id}/mesh``: the tessellation the 3D view draws, in the frame of the DFM
locations, for the part's owner only. SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import trimesh
from fastapi.testclient import TestClient

from platform_api.web.mesh import mesh_path
from tests.platform_api.factories import make_org, stl_box

SMALL_STEP = Path("nist_ctc_ftc") / "ap242_pmi" / "nist_ctc_03_asme1_ap242-e2.stp"


def _stl(body: bytes) -> trimesh.Trimesh:
    mesh = trimesh.load(io.BytesIO(body), file_type="stl")
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


def test_mesh_of_an_stl_is_the_part_in_mm_and_only_for_its_owner(client: TestClient, ctx) -> None:  # type: ignore[no-untyped-def]
    owner, other = make_org(ctx, "buyer"), make_org(ctx, "shop")
    part = client.post(
        "/v1/parts", files={"file": ("box.stl", stl_box(40, 30, 10))}, headers=owner.headers
    ).json()
    r = client.get(f"/v1/parts/{part['id']}/mesh", headers=owner.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "model/stl"
    mesh = _stl(r.content)
    assert mesh.is_watertight
    assert np.ptp(mesh.vertices, axis=0) == pytest.approx([40, 30, 10], abs=1e-3)
    assert client.get(f"/v1/parts/{part['id']}/mesh", headers=other.headers).status_code == 404
    assert client.get(f"/v1/parts/{part['id']}/mesh").status_code == 401


def test_step_is_tessellated_once_in_the_frame_of_its_dfm_locations(
    client: TestClient,
    ctx,  # type: ignore[no-untyped-def]
    shared_parts: Path,
) -> None:
    buyer = make_org(ctx, "buyer")
    data = (shared_parts / SMALL_STEP).read_bytes()
    part = client.post(
        "/v1/parts", files={"file": (SMALL_STEP.name, data)}, headers=buyer.headers
    ).json()
    r = client.get(f"/v1/parts/{part['id']}/mesh", headers=buyer.headers)
    assert r.status_code == 200
    mesh = _stl(r.content)
    assert len(mesh.faces) > 500
    # Same extents as the analysis measured, and every located DFM finding lies on the part's
    # bounding box (so the markers the page draws land on the model).
    assert np.ptp(mesh.vertices, axis=0) == pytest.approx(part["features"]["bbox_mm"], rel=1e-3)
    lo, hi = mesh.bounds
    located = [w["location_mm"] for w in part["dfm"] if w.get("location_mm")]
    assert located, part["dfm"]
    for loc in located:
        assert np.all(np.asarray(loc) >= lo - 1.0) and np.all(np.asarray(loc) <= hi + 1.0), loc
    with ctx.db.session() as session:
        from platform_api.db.models import Part

        row = session.get(Part, part["id"])
        cached = mesh_path(ctx.settings.data_dir, row)
    assert cached.is_file()
    sentinel = trimesh.Trimesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 2]])
    cached.write_bytes(sentinel.export(file_type="stl"))
    again = client.get(f"/v1/parts/{part['id']}/mesh", headers=buyer.headers)
    assert len(_stl(again.content).faces) == 1  # served from the cache, not re-tessellated
    cached.unlink()
