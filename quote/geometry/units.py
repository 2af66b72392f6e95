"""Length units of part files: parsing the ``--units`` option, and noticing a unit mistake.

STL, OBJ and PLY carry no units; we read them in millimetres. A part that reads as a few
millimetres across was very often exported in inches (or metres), so units are confirmed, not
guessed: a unitless mesh whose size is implausible in mm but plausible in another unit is
refused (``SuspectUnits``) with the units to pass (``--units inch``), and quoted once the caller
gives them. Files that carry their units (STEP, 3MF, glTF) are read in those. Parts outside
0.5 mm .. 3 m are refused, with the same suggestion when one applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quote.errors import InvalidUnits, PartSizeOutOfRange, SuspectUnits

#: Millimetres per unit, by canonical unit name.
UNIT_SCALE_MM: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "inch": 25.4}

_ALIASES: dict[str, str] = {
    "mm": "mm",
    "millimeter": "mm",
    "millimeters": "mm",
    "millimetre": "mm",
    "millimetres": "mm",
    "cm": "cm",
    "centimeter": "cm",
    "centimeters": "cm",
    "centimetre": "cm",
    "centimetres": "cm",
    "m": "m",
    "meter": "m",
    "meters": "m",
    "metre": "m",
    "metres": "m",
    "inch": "inch",
    "inches": "inch",
    "in": "inch",
}

#: Smallest and largest part the engine quotes: largest extent, mm.
MIN_EXTENT_MM = 0.5
MAX_EXTENT_MM = 3000.0
#: A unitless part read in mm whose largest extent is under this is suspiciously small, mm.
SUSPECT_BELOW_MM = 10.0
#: A rescaled part is plausible when its largest extent lands in this range, mm.
_PLAUSIBLE_MM = (10.0, 2000.0)
# Units suggested when a size looks wrong, most common mistake first (STL from US CAD in
# inches; meshes from scanning or graphics tools in metres). Centimetres are accepted but not
# suggested: x10 and x25.4 are too close to tell apart from the size alone.
_CANDIDATES = ("inch", "m")


def parse_units(units: str) -> str:
    """Canonical unit name ("mm", "cm", "m", "inch") for a user-given unit.

    Parameters
    ----------
    units : str
        e.g. "mm", "in", "inches", "metre"; case and surrounding spaces are ignored.

    Raises
    ------
    InvalidUnits
        When the name is not a known length unit; the message lists the accepted ones.
    """
    key = str(units).strip().lower()
    if key not in _ALIASES:
        raise InvalidUnits(
            f"Unknown units {units!r}: use one of mm, cm, m, inch (or in).",
            detail={"units": str(units), "accepted": sorted(UNIT_SCALE_MM)},
        )
    return _ALIASES[key]


def unit_from_name(name: str | None) -> str | None:
    """Canonical unit for a unit name found in a file (3MF "millimeter", glTF "meters"), or None."""
    if not name:
        return None
    return _ALIASES.get(str(name).strip().lower())


def _fmt_len(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _fmt_dims(extents_mm: Sequence[float] | np.ndarray) -> str:
    return " x ".join(_fmt_len(float(e)) for e in extents_mm) + " mm"


def _rescaled_candidates(
    extents_mm: np.ndarray, exclude: str = "mm"
) -> list[tuple[str, np.ndarray]]:
    """Units that would turn these mm extents into a plausible part, most likely first."""
    out = []
    for unit in _CANDIDATES:
        if unit == exclude:
            continue
        scaled = extents_mm * UNIT_SCALE_MM[unit]
        if _PLAUSIBLE_MM[0] <= float(scaled.max()) <= _PLAUSIBLE_MM[1]:
            out.append((unit, scaled))
    return out


def _suggestion(extents_mm: np.ndarray, exclude: str = "mm") -> tuple[str, list[str]]:
    cands = _rescaled_candidates(extents_mm, exclude)
    if not cands:
        return "", []
    text = "; ".join(
        f"if it was exported in {'inches' if u == 'inch' else u}, pass --units {u} ({_fmt_dims(s)})"
        for u, s in cands
    )
    return text, [u for u, _ in cands]


_UNIT_WORDS = {"inch": "inches", "m": "metres", "cm": "centimetres", "mm": "millimetres"}


def check_size(
    extents_mm: Sequence[float] | np.ndarray, *, units: str, units_given: bool, source_format: str
) -> None:
    """Refuse parts outside 0.5 mm .. 3 m, and unitless parts whose size says "wrong unit".

    Parameters
    ----------
    extents_mm : (3,) float
        Axis-aligned extents of the whole part (all bodies), mm.
    units : str
        Canonical unit the file was read in.
    units_given : bool
        True when the units are known rather than assumed: chosen by the caller (``--units``,
        the API's ``units``) or declared by the file (STEP, 3MF, glTF). Then a small part is
        taken at its word.
    source_format : str
        "stl", "step", ... for the message.

    Raises
    ------
    PartSizeOutOfRange
        Largest extent below 0.5 mm or above 3000 mm; the message gives the measured size and,
        when another unit gives a plausible part, the ``--units`` to pass.
    SuspectUnits
        Units assumed (mm), largest extent under 10 mm, and inches or metres give a part of
        10 .. 2000 mm: the message names the units to pass (or ``--units mm`` to confirm).
    """
    ext = np.asarray(extents_mm, dtype=float)
    largest = float(ext.max()) if ext.size else 0.0
    if MIN_EXTENT_MM <= largest <= MAX_EXTENT_MM and (
        units_given or units != "mm" or largest >= SUSPECT_BELOW_MM
    ):
        return  # the common case, before any message is put together
    detail = {
        "extents_mm": [round(float(e), 6) for e in ext],
        "largest_mm": round(largest, 6),
        "units": units,
        "min_mm": MIN_EXTENT_MM,
        "max_mm": MAX_EXTENT_MM,
    }
    declared = " (the units the file declares)" if source_format == "step" else ""
    if largest < MIN_EXTENT_MM:
        # Read in some unit u, the file's numbers are ext / scale(u); retry them in mm first.
        raw = ext / UNIT_SCALE_MM[units]
        hint, suggested = ("", []) if source_format == "step" else _suggestion(raw, units)
        detail["suggested_units"] = suggested
        raise PartSizeOutOfRange(
            f"The part measures {_fmt_dims(ext)} (read in {units}{declared}), smaller than the "
            f"{MIN_EXTENT_MM} mm the engine quotes."
            + (f" The size looks like a unit mistake: {hint}." if hint else ""),
            detail=detail,
        )
    if largest > MAX_EXTENT_MM:
        hint = ""
        if units != "mm" and source_format != "step":
            why = (
                " (glTF files are in metres unless they say otherwise)"
                if source_format == "glb"
                else ""
            )
            hint = f" If the file is in millimetres{why}, pass --units mm."
        raise PartSizeOutOfRange(
            f"The part measures {_fmt_dims(ext)} (read in {units}{declared}), larger than the "
            f"{MAX_EXTENT_MM / 1000:g} m the engine quotes. Check the units the model was "
            f"exported in.{hint}",
            detail=detail,
        )
    if not (units_given or units != "mm" or largest >= SUSPECT_BELOW_MM):
        _refuse_if_suspect(ext, source_format=source_format)


def _refuse_if_suspect(extents_mm: np.ndarray, *, source_format: str) -> None:
    """``SuspectUnits`` when these extents, read in mm, are plausible in inches or metres.

    Parameters
    ----------
    extents_mm : (3,) float
        Extents of a part read in millimetres with no units given, largest under 10 mm.
    source_format : str
        "stl", "obj", ... for the message.
    """
    cands = _rescaled_candidates(extents_mm)
    if not cands:
        return  # no unit makes it plausible either: quote it as the millimetres it says
    largest = float(extents_mm.max())
    (unit, scaled), others = cands[0], cands[1:]
    as_suggested = float(scaled.max())
    alt = "".join(
        f"; in {_UNIT_WORDS[u]} {_fmt_len(float(s.max()))} mm (--units {u})" for u, s in others
    )
    raise SuspectUnits(
        f"The part measures {_fmt_dims(extents_mm)} read in millimetres (largest extent "
        f"{_fmt_len(largest)} mm), implausibly small for a machined part, and "
        f"{source_format.upper()} files carry no units. In {_UNIT_WORDS[unit]} it would be "
        f"{_fmt_len(as_suggested)} mm, a plausible part: pass --units {unit} (API: "
        f"units={unit}){alt}. If it really is {_fmt_len(largest)} mm, pass --units mm.",
        detail={
            "measured_mm": round(largest, 6),
            "extents_mm": [round(float(e), 6) for e in extents_mm],
            "suggested_units": unit,
            "as_suggested_mm": round(as_suggested, 6),
            "alternatives": {u: round(float(s.max()), 6) for u, s in others},
        },
    )
