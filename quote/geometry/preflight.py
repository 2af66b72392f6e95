"""Checks on a part file before any parser touches it: format, size, and a look at its bytes.

Everything here reads at most a few kilobytes (plus one hashing pass), so a 100 MB upload, a
truncated STEP file or a photo renamed ``.stl`` is refused in milliseconds with a message that
says what is wrong, instead of after (or during) a long parse. STL files, which our own reader
parses, are read whole in one go (after the size check) and their bytes handed on, so the file
is opened once.
"""

from __future__ import annotations

import errno
import hashlib
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from quote.errors import (
    EmptyPart,
    PartNotFound,
    PartTooLarge,
    UnreadablePart,
    UnsupportedFormat,
)

#: File suffixes the engine reads (lower case; matching is case-insensitive).
SUPPORTED_SUFFIXES: tuple[str, ...] = (".step", ".stp", ".stl", ".obj", ".ply", ".3mf", ".glb")

FORMAT_BY_SUFFIX: dict[str, str] = {
    ".step": "step",
    ".stp": "step",
    ".stl": "stl",
    ".obj": "obj",
    ".ply": "ply",
    ".3mf": "3mf",
    ".glb": "glb",
}

_PEEK_BYTES = 4096
# What ``Path.exists`` takes for "no such file" (a missing folder on the way, a symlink loop).
_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)
_STL_HEADER_BYTES = 84
_STL_RECORD_BYTES = 50

# Leading bytes of files people upload by mistake, to name what the file really is.
_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE file (SolidWorks, Inventor or old Office)"),
    (b"AC10", "an AutoCAD DWG drawing"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


@dataclass(frozen=True)
class FileInfo:
    """What the preflight learned about a part file.

    path : the file. source_format : "step", "stl", "obj", "ply", "3mf" or "glb".
    size_bytes : file size, bytes. sha256 : hex digest of the bytes.
    stl_binary : True/False for STL files, None otherwise.
    declared_triangles : triangle (face) count announced by a binary STL or PLY header, else None.
    data : the file's bytes for STL files (read once here for the parser), else None.
    """

    path: Path
    source_format: str
    size_bytes: int
    sha256: str
    stl_binary: bool | None = None
    declared_triangles: int | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)


def _supported_text() -> str:
    return ", ".join(SUPPORTED_SUFFIXES)


def _foreign(head: bytes, source_format: str) -> str | None:
    """Name of the foreign format the bytes start with, or None."""
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return what
    if head.startswith(b"PK\x03\x04") and source_format != "3mf":
        return "a ZIP archive"
    return None


def _read_ends(path: Path, size: int) -> tuple[bytes, bytes]:
    with path.open("rb") as fh:
        head = fh.read(_PEEK_BYTES)
        if size > _PEEK_BYTES:
            fh.seek(max(size - _PEEK_BYTES, _PEEK_BYTES))
            tail = fh.read()
        else:
            tail = head
    return head, tail


def _ends(data: bytes) -> tuple[bytes, bytes]:
    """``_read_ends`` of bytes already read."""
    size = len(data)
    head = data[:_PEEK_BYTES]
    tail = data[max(size - _PEEK_BYTES, _PEEK_BYTES) :] if size > _PEEK_BYTES else head
    return head, tail


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _looks_binary(chunk: bytes) -> bool:
    # Text part formats (ASCII STL, OBJ, STEP) never hold NUL bytes.
    return b"\x00" in chunk


def _check_step(path: Path, head: bytes, tail: bytes, size: int) -> None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.upper().startswith(b"ISO-10303-21"):
        raise UnreadablePart(
            f"{path.name} is not a STEP file: a STEP (ISO 10303-21) file starts with "
            f"'ISO-10303-21;'. Export the part from CAD as STEP AP203, AP214 or AP242.",
            detail={"path": str(path), "bytes": size, "starts_with": head[:24].hex()},
        )
    if b"END-ISO-10303-21" not in tail.upper():
        raise UnreadablePart(
            f"{path.name} is truncated: a STEP file ends with 'END-ISO-10303-21;' and this one "
            f"stops after {size} bytes. Upload the complete file again.",
            detail={"path": str(path), "bytes": size, "reason": "truncated"},
        )


def _check_stl(
    path: Path, head: bytes, tail: bytes, size: int, max_triangles: int
) -> tuple[bool, int | None]:
    """Binary or ASCII, and the announced triangle count of a binary STL."""
    if size >= _STL_HEADER_BYTES:
        (count,) = struct.unpack("<I", head[80:84])
        expected = _STL_HEADER_BYTES + _STL_RECORD_BYTES * count
        if expected == size:
            # Some exporters start a binary header with "solid": the exact size decides.
            if count > max_triangles:
                raise PartTooLarge(
                    f"{path.name} holds {count:,} triangles, over the limit of "
                    f"{max_triangles:,}. Export it with a coarser tessellation (larger chord "
                    f"tolerance) or send the STEP file.",
                    detail={"triangles": count, "max_triangles": max_triangles},
                )
            return True, count
    else:
        count, expected = 0, _STL_HEADER_BYTES
    stripped = head.lstrip()
    if stripped[:5].lower() == b"solid" and not _looks_binary(head):
        if b"endsolid" not in tail.lower():
            raise UnreadablePart(
                f"{path.name} is truncated: an ASCII STL file ends with 'endsolid' and this one "
                f"stops after {size} bytes. Upload the complete file again.",
                detail={"path": str(path), "bytes": size, "reason": "truncated"},
            )
        return False, None
    if size < expected:
        reason = (
            f"its header announces {count:,} triangles ({expected:,} bytes) but the file "
            f"holds {size:,} bytes"
        )
    elif size < _STL_HEADER_BYTES:
        reason = f"it is {size} bytes long, shorter than the 84-byte header of a binary STL"
    else:
        reason = f"it holds {size - expected:,} bytes more than its {count:,} triangles need"
    raise UnreadablePart(
        f"{path.name} is truncated or not an STL file: {reason}. Export it again as binary "
        f"or ASCII STL.",
        detail={"path": str(path), "bytes": size, "header_triangles": count, "expected": expected},
    )


def _check_ply(path: Path, head: bytes, size: int, max_triangles: int) -> int | None:
    if not head.startswith(b"ply"):
        raise UnreadablePart(
            f"{path.name} is not a PLY file: a PLY file starts with 'ply'.",
            detail={"path": str(path), "bytes": size, "starts_with": head[:24].hex()},
        )
    header = head.split(b"end_header", 1)[0]
    match = re.search(rb"element\s+face\s+(\d+)", header)
    if match is None:
        return None
    count = int(match.group(1))
    if count > max_triangles:
        raise PartTooLarge(
            f"{path.name} holds {count:,} faces, over the limit of {max_triangles:,} triangles. "
            f"Export it with a coarser tessellation or send the STEP file.",
            detail={"triangles": count, "max_triangles": max_triangles},
        )
    return count


def _check_glb(path: Path, head: bytes, size: int) -> None:
    if len(head) < 12 or head[:4] != b"glTF":
        raise UnreadablePart(
            f"{path.name} is not a GLB file: a binary glTF file starts with 'glTF'.",
            detail={"path": str(path), "bytes": size, "starts_with": head[:24].hex()},
        )
    (declared,) = struct.unpack("<I", head[8:12])
    if declared > size:
        raise UnreadablePart(
            f"{path.name} is truncated: its header announces {declared:,} bytes but the file "
            f"holds {size:,}. Upload the complete file again.",
            detail={"path": str(path), "bytes": size, "declared_bytes": declared},
        )


def preflight(path: str | Path, *, max_bytes: int, max_triangles: int) -> FileInfo:
    """Check a part file before parsing it and hash it.

    Parameters
    ----------
    path : str or Path
        The part file.
    max_bytes : int
        Largest file accepted, bytes (checked from the file system, before reading).
    max_triangles : int
        Largest triangle count accepted (checked here from binary STL and PLY headers).

    Returns
    -------
    FileInfo

    Raises
    ------
    UnsupportedFormat
        Unknown suffix (the message lists the supported ones).
    PartNotFound
        No such file, or a directory.
    EmptyPart
        Zero bytes, or only white space.
    PartTooLarge
        Over ``max_bytes``, or a header announcing more than ``max_triangles``.
    UnreadablePart
        Bytes that are not the announced format (an image, an archive), or a truncated file.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FORMAT_BY_SUFFIX:
        raise UnsupportedFormat(
            f"{p.name}: {suffix or 'no suffix'} is not a supported part format. "
            f"Send one of {_supported_text()} (STEP preferred: it keeps exact geometry).",
            detail={"path": str(p), "suffix": suffix, "supported": list(SUPPORTED_SUFFIXES)},
        )
    source_format = FORMAT_BY_SUFFIX[suffix]
    try:
        status = p.stat()  # one system call for existence, kind and size
    except OSError as exc:
        if exc.errno not in _MISSING:
            raise
        raise PartNotFound(
            f"{p} does not exist. Check the path.", detail={"path": str(p)}
        ) from None
    if not stat.S_ISREG(status.st_mode):
        raise PartNotFound(f"{p} is not a file (a directory?).", detail={"path": str(p)})
    size = status.st_size
    if size == 0:
        raise EmptyPart(f"{p.name} is empty (0 bytes).", detail={"path": str(p), "bytes": 0})
    if size > max_bytes:
        raise PartTooLarge(
            f"{p.name} is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit. "
            f"Send a STEP file or a coarser mesh.",
            detail={"path": str(p), "bytes": size, "max_bytes": max_bytes},
        )
    data = p.read_bytes() if source_format == "stl" else None
    if data is None:
        head, tail = _read_ends(p, size)
    else:
        size = len(data)  # what the parser will see, should the file have changed since stat
        head, tail = _ends(data)
    if size <= _PEEK_BYTES and not head.strip():
        raise EmptyPart(f"{p.name} holds only white space.", detail={"path": str(p), "bytes": size})
    what = _foreign(head, source_format)
    if what is not None:
        raise UnreadablePart(
            f"{p.name} is {what}, not a {source_format.upper()} part file. Export the part "
            f"from CAD as STEP (preferred) or STL.",
            detail={"path": str(p), "bytes": size, "looks_like": what},
        )
    stl_binary: bool | None = None
    declared: int | None = None
    if source_format == "step":
        _check_step(p, head, tail, size)
    elif source_format == "stl":
        stl_binary, declared = _check_stl(p, head, tail, size, max_triangles)
    elif source_format == "ply":
        declared = _check_ply(p, head, size, max_triangles)
    elif source_format == "glb":
        _check_glb(p, head, size)
    elif source_format == "3mf" and not head.startswith(b"PK\x03\x04"):
        raise UnreadablePart(
            f"{p.name} is not a 3MF file: a 3MF file is a ZIP archive.",
            detail={"path": str(p), "bytes": size, "starts_with": head[:24].hex()},
        )
    elif source_format == "obj" and _looks_binary(head):
        raise UnreadablePart(
            f"{p.name} is not an OBJ file: OBJ is text and this file holds binary data.",
            detail={"path": str(p), "bytes": size},
        )
    return FileInfo(
        path=p,
        source_format=source_format,
        size_bytes=size,
        sha256=_sha256(p) if data is None else hashlib.sha256(data).hexdigest(),
        stl_binary=stl_binary,
        declared_triangles=declared,
        data=data,
    )
