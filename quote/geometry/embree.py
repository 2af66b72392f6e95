"""Ray queries through Embree 4 (the library the ``embreex`` wheel ships), called directly.

The scene is handed our arrays through Embree's C API (ctypes) and the rays are cast from a
compiled loop (numba, linking ``rtcIntersect1`` by name); ``MeshData.first_hit`` falls back to
trimesh's numpy intersector when the library cannot be opened.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import threading
import weakref
from pathlib import Path

import numpy as np
import trimesh
from numba import njit, types

from quote.geometry.measures import used_box, vertex_box_kernel

FloatArray = np.ndarray
IntArray = np.ndarray


# Embree 4 C API constants (rtcore_common.h, rtcore_buffer.h, rtcore_geometry.h,
# rtcore_scene.h, rtcore_device.h).
_RTC_GEOMETRY_TYPE_TRIANGLE = 0
_RTC_BUFFER_TYPE_INDEX = 0
_RTC_BUFFER_TYPE_VERTEX = 1
_RTC_FORMAT_UINT3 = 0x5003
_RTC_FORMAT_FLOAT3 = 0x9003
# embreex builds its scenes robust (watertight, no culling of hits at the ray origin); a ray
# from a point on the surface finds the triangle under it only so.
_RTC_SCENE_FLAG_ROBUST = 1 << 2
_RTC_DEVICE_PROPERTY_VERSION_MAJOR = 1
_RTC_INVALID_GEOMETRY_ID = np.uint32(0xFFFFFFFF)
# embreex's rays reach this far (the scene is scaled to a diagonal of 100).
_RAY_TFAR = np.float32(1e37)


class _Embree:
    """The Embree 4 library of the ``embreex`` wheel, opened through ctypes, and one device."""

    def __init__(self, path: Path) -> None:
        import llvmlite.binding

        lib = ctypes.CDLL(str(path))
        vp, uint, size = ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t
        for name, restype, argtypes in (
            ("rtcNewDevice", vp, [ctypes.c_char_p]),
            ("rtcGetDeviceProperty", ctypes.c_ssize_t, [vp, ctypes.c_int]),
            ("rtcGetDeviceError", ctypes.c_int, [vp]),
            ("rtcNewScene", vp, [vp]),
            ("rtcSetSceneFlags", None, [vp, ctypes.c_int]),
            ("rtcNewGeometry", vp, [vp, ctypes.c_int]),
            (
                "rtcSetSharedGeometryBuffer",
                None,
                [vp, ctypes.c_int, uint, ctypes.c_int, vp, size, size, size],
            ),
            ("rtcCommitGeometry", None, [vp]),
            ("rtcAttachGeometry", uint, [vp, vp]),
            ("rtcReleaseGeometry", None, [vp]),
            ("rtcCommitScene", None, [vp]),
            ("rtcReleaseScene", None, [vp]),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        self.lib = lib
        self.device = lib.rtcNewDevice(None)
        if not self.device:
            raise OSError(f"Embree ({path.name}) could not create a device")
        major = lib.rtcGetDeviceProperty(self.device, _RTC_DEVICE_PROPERTY_VERSION_MAJOR)
        if major != 4:
            raise OSError(f"{path.name} is Embree {major}, not Embree 4")
        # The compiled ray loop (``_cast_rays``) links ``rtcIntersect1`` by name.
        llvmlite.binding.load_library_permanently(str(path))


_LOG = logging.getLogger(__name__)
_EMBREE_LOCK = threading.Lock()
_EMBREE: list[_Embree | None] = []


def load_embree() -> _Embree | None:
    """The Embree library that ``embreex`` ships (opened once), or None without embreex (or
    when it cannot be opened: the rays then take trimesh's slower numpy intersector)."""
    if not _EMBREE:
        with _EMBREE_LOCK:
            if not _EMBREE:
                path = _embree_library_path()
                embree = None
                if path is not None:
                    try:
                        embree = _Embree(path)
                    except OSError as exc:
                        _LOG.warning("Embree unusable, ray casting falls back to numpy: %s", exc)
                _EMBREE.append(embree)
    return _EMBREE[0]


def _embree_library_path() -> Path | None:
    """The Embree 4 shared library inside the ``embreex`` installation, or None."""
    spec = importlib.util.find_spec("embreex")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    # Where the wheel tools put bundled libraries: auditwheel and delvewheel (embreex.libs
    # beside the package), delocate (.dylibs inside it), or the package folder itself.
    for folder in (package.parent / "embreex.libs", package / ".dylibs", package):
        found = sorted(folder.glob("*embree4*"))
        if found:
            return found[0]
    return None


class EmbreeScene:
    """One Embree scene over a mesh, queried for the first triangle each ray hits.

    Built like trimesh's ``ray_pyembree._EmbreeWrap`` over embreex (the same shift, scale,
    float32 rounding and robust scene, so the same rays hit the same triangles), but through
    Embree's C API: embreex copies the arrays into Embree element by element through Python
    indexing (~0.3 ms for 1.3k triangles), while here Embree reads our arrays where they are.
    The scene is committed (its BVH built) on construction.
    """

    def __init__(self, vertices: FloatArray, faces: IntArray) -> None:
        embree = load_embree()
        if embree is None:
            raise RuntimeError("Embree is not installed (pip install embreex)")
        lib, device = embree.lib, embree.device
        vertices = np.ascontiguousarray(vertices, dtype=np.float64)
        faces = np.ascontiguousarray(faces, dtype=np.int64)
        origin, squared_diagonal = _scene_frame(vertices, faces)
        # trimesh's ``scale``: the box diagonal of the referenced vertices (1.0 when
        # degenerate), rounded as ``(np.ptp(used, axis=0) ** 2).sum() ** 0.5`` rounds it.
        diagonal = float(np.float64(squared_diagonal) ** 0.5)
        self.scale = 100.0 / (diagonal if diagonal >= trimesh.tol.zero else 1.0)
        self.origin = origin
        points, corners = _scene_arrays(vertices, faces, origin, self.scale)
        scene = lib.rtcNewScene(device)
        lib.rtcSetSceneFlags(scene, _RTC_SCENE_FLAG_ROBUST)
        geometry = lib.rtcNewGeometry(device, _RTC_GEOMETRY_TYPE_TRIANGLE)
        lib.rtcSetSharedGeometryBuffer(
            geometry,
            _RTC_BUFFER_TYPE_VERTEX,
            0,
            _RTC_FORMAT_FLOAT3,
            points.ctypes.data,
            0,
            16,
            len(points),
        )
        lib.rtcSetSharedGeometryBuffer(
            geometry,
            _RTC_BUFFER_TYPE_INDEX,
            0,
            _RTC_FORMAT_UINT3,
            corners.ctypes.data,
            0,
            12,
            len(corners),
        )
        lib.rtcCommitGeometry(geometry)
        lib.rtcAttachGeometry(scene, geometry)
        lib.rtcReleaseGeometry(geometry)
        lib.rtcCommitScene(scene)
        error = lib.rtcGetDeviceError(device)
        # The scene reads the arrays in place: they live until it is released.
        self._release = weakref.finalize(self, _release_scene, lib, scene, (points, corners))
        self._release.atexit = False
        if error:
            raise RuntimeError(f"Embree could not build the scene (error {error})")
        self.scene: int = scene

    def __call__(self, origins: FloatArray, directions: FloatArray) -> IntArray:
        origins = np.ascontiguousarray(origins, dtype=np.float64).reshape(-1, 3)
        directions = np.ascontiguousarray(directions, dtype=np.float64).reshape(-1, 3)
        if len(directions) not in (1, len(origins)):
            raise ValueError(f"{len(directions)} directions for {len(origins)} rays")
        return _cast_rays(self.scene, origins, directions, self.origin, self.scale)


@njit(cache=True, nogil=True)
def _scene_frame(vertices: FloatArray, faces: IntArray) -> tuple[FloatArray, float]:
    """The corner (3,) of the box of all vertices, and the squared diagonal of the box of the
    vertices the triangles use (0 for none), summed like numpy's ``(ptp ** 2).sum()``."""
    origin, _ = vertex_box_kernel(vertices)
    if faces.shape[0] == 0:
        return origin, 0.0
    lo, hi = used_box(vertices, faces)
    dx, dy, dz = hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]
    return origin, (dx * dx + dy * dy) + dz * dz


@njit(cache=True, nogil=True)
def _scene_arrays(
    vertices: FloatArray, faces: IntArray, origin: FloatArray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Embree's vertex buffer ((V, 4) float32: the vertices shifted by ``origin`` and scaled,
    then rounded, and a zero pad) and index buffer ((F, 3) uint32).

    Embree loads a vertex as 16 bytes; with the pad no load reaches past the array's end.
    """
    points = np.zeros((vertices.shape[0], 4), dtype=np.float32)
    for v in range(vertices.shape[0]):
        for d in range(3):
            points[v, d] = np.float32((vertices[v, d] - origin[d]) * scale)
    corners = np.empty((faces.shape[0], 3), dtype=np.uint32)
    for f in range(faces.shape[0]):
        for c in range(3):
            corners[f, c] = np.uint32(faces[f, c])
    return points, corners


def _release_scene(lib: ctypes.CDLL, scene: int, buffers: tuple[np.ndarray, ...]) -> None:
    """Release an Embree scene; ``buffers`` (the arrays it read in place) die after it."""
    lib.rtcReleaseScene(scene)


# ``void rtcIntersect1(RTCScene, RTCRayHit*, RTCIntersectArguments*)``, pointers as integers
# (resolved in the library loaded by ``_Embree``).
_rtc_intersect1 = types.ExternalFunction(
    "rtcIntersect1", types.void(types.uintp, types.uintp, types.uintp)
)


@njit(cache=True, nogil=True)
def _cast_rays(
    scene: int, origins: FloatArray, directions: FloatArray, shift: FloatArray, scale: float
) -> IntArray:
    """(n,) int: first triangle hit by each ray, -1 for a miss.

    Rays are shifted and scaled into the scene's frame and rounded to float32 as embreex's
    caller (trimesh) does, and set up as embreex sets them (t from 0 to 1e37, every mask bit).
    ``directions`` is (n, 3), or (1, 3) for one direction for all.
    """
    n = origins.shape[0]
    out = np.empty(n, dtype=np.int64)
    # One RTCRayHit (ray: org, tnear, dir, time, tfar, mask, id, flags; hit: Ng, u, v,
    # primID, geomID, instID...: 96 bytes, 16-byte aligned) in a 4-byte-word buffer.
    words = np.zeros(40, dtype=np.float32)
    address = words.ctypes.data
    skip = ((16 - address % 16) % 16) // 4
    ray = words[skip : skip + 32]
    bits = ray.view(np.uint32)
    pointer = address + 4 * skip
    step = 1 if directions.shape[0] > 1 else 0
    for i in range(n):
        j = i * step
        for d in range(3):
            ray[d] = np.float32((origins[i, d] - shift[d]) * scale)
            ray[4 + d] = np.float32(directions[j, d])
        ray[3] = 0.0  # tnear
        ray[7] = 0.0  # time
        ray[8] = _RAY_TFAR
        bits[9] = _RTC_INVALID_GEOMETRY_ID  # mask: every bit
        bits[10] = 0  # id
        bits[11] = 0  # flags
        bits[17] = _RTC_INVALID_GEOMETRY_ID  # primID
        bits[18] = _RTC_INVALID_GEOMETRY_ID  # geomID
        bits[19] = _RTC_INVALID_GEOMETRY_ID  # instID
        # numba types the external C function; mypy sees only numba's Type object.
        _rtc_intersect1(scene, pointer, 0)  # type: ignore[call-overload]
        out[i] = -1 if bits[18] == _RTC_INVALID_GEOMETRY_ID else np.int64(bits[17])
    return out
