"""Raw stock: the catalog plate or round bar a part is cut from, and the volume to remove."""

from __future__ import annotations

import math

from quote.catalogs import StockSizes
from quote.types import Stock

# Parts thicker than the thickest catalog plate are cut from a block sawn to size; its thickness is
# rounded up to this step (mm). Estimate: thick blocks are sold cut to 5 mm steps.
_BLOCK_STEP_MM = 5.0


def plate_stock(extents_mm: tuple[float, float, float], sizes: StockSizes) -> Stock:
    """The plate blank for a part of oriented extents ``extents_mm`` (any order, mm).

    Thickness: the thinnest catalog plate at least the part's smallest extent plus the face
    allowance (a block rounded up to 5 mm when no plate is thick enough); width and length: the
    other two extents plus the saw allowance on each side.
    """
    t, w, length = sorted(float(e) for e in extents_mm)
    thick = sizes.next_plate_thickness(t)
    if thick is None:
        need = t + sizes.plate_face_allowance_mm
        thick = math.ceil(need / _BLOCK_STEP_MM) * _BLOCK_STEP_MM
    a = 2.0 * sizes.allowance_mm
    dims = (float(thick), w + a, length + a)
    return Stock("plate", dims, dims[0] * dims[1] * dims[2])


def bar_stock(diameter_mm: float, length_mm: float, sizes: StockSizes) -> Stock | None:
    """The round bar for a turned part of ``diameter_mm`` and ``length_mm`` (mm), or None when
    the catalog has no bar that large."""
    d = sizes.next_bar_diameter(diameter_mm)
    if d is None:
        return None
    length = float(length_mm) + 2.0 * sizes.bar_allowance_mm
    return Stock("round_bar", (float(d), length), math.pi * d * d / 4.0 * length)


def choose_stock(
    extents_mm: tuple[float, float, float],
    sizes: StockSizes,
    *,
    turned_diameter_mm: float | None = None,
    turned_length_mm: float | None = None,
) -> Stock:
    """The smaller (by volume) of the plate blank and, for turned parts, the round bar.

    Parameters
    ----------
    extents_mm
        Minimum oriented box extents of the part, mm.
    sizes
        The stock catalog.
    turned_diameter_mm, turned_length_mm
        Largest diameter and length along the turning axis of a turned part, mm; None for
        parts that are not turned (they are cut from plate).
    """
    plate = plate_stock(extents_mm, sizes)
    if turned_diameter_mm is None or turned_length_mm is None:
        return plate
    bar = bar_stock(turned_diameter_mm, turned_length_mm, sizes)
    if bar is None or plate.volume_mm3 < bar.volume_mm3:
        return plate
    return bar
