"""Content-addressed part files: ``<data_dir>/parts/ab/cdef...<ext>`` by SHA-256 of the bytes.

The same file uploaded twice (by anyone) is stored once; a stored file never changes, so any
API process or host sharing ``data_dir`` can serve it.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO

from platform_api.errors import PayloadTooLarge

_CHUNK = 1 << 20  # 1 MiB
_SAFE_EXT = re.compile(r"^\.[a-z0-9]{1,8}$")


def safe_file_name(name: str | None) -> str:
    """The upload's base name without directories or control characters (max 255 chars)."""
    base = (name or "part").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip() or "part"
    return base[-255:]


def extension(name: str) -> str:
    """Lower-case extension of ``name`` ('.step'), or '' when absent or odd."""
    ext = Path(name).suffix.lower()
    return ext if _SAFE_EXT.match(ext) else ""


def receive(src: BinaryIO, tmp_dir: Path, *, ext: str, max_bytes: int) -> tuple[Path, str, int]:
    """Copy ``src`` to a new file in ``tmp_dir`` while hashing it.

    Returns (path, sha256 hex, size in bytes). Raises ``PayloadTooLarge`` past ``max_bytes``
    (the partial file is removed).
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"{secrets.token_hex(12)}{ext}"
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"part file is larger than the limit of {max_bytes:,} bytes",
                        detail={"max_bytes": max_bytes},
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size


def relative_path(sha256: str, ext: str) -> str:
    """Where a file with this hash and extension lives, relative to ``data_dir``."""
    return f"parts/{sha256[:2]}/{sha256[2:]}{ext}"


def store(tmp_path: Path, data_dir: Path, sha256: str, ext: str) -> str:
    """Move a received file into the store (atomic rename); returns its relative path."""
    rel = relative_path(sha256, ext)
    final = data_dir / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        tmp_path.unlink(missing_ok=True)  # same bytes already stored
    else:
        os.replace(tmp_path, final)
    return rel
