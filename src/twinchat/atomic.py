"""Outputs appear whole or not at all, readable by their owner only."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from twinchat.errors import TwinchatError


@contextmanager
def staged_folder(out: Path, force: bool = False) -> Iterator[Path]:
    """A private temporary folder beside `out`, moved into place when the block succeeds.

    Raises:
        TwinchatError: `out` exists and is not empty, and `force` is not set.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TwinchatError(f"{out} is a file; choose a folder for the output")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise TwinchatError(f"{out} already exists and is not empty; choose another or add --force")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(staging, 0o700)
    try:
        yield staging
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def private_open(path: Path, mode: str = "w") -> IO[Any]:
    """Open a text file that only its owner can read (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    if "b" in mode:
        return os.fdopen(fd, mode, buffering=1 << 20)
    return os.fdopen(fd, mode, encoding="utf-8", buffering=1 << 20)


def write_private(path: Path, text: str) -> None:
    """Write a whole file atomically with owner-only permissions."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    with private_open(temporary) as handle:
        handle.write(text)
    temporary.replace(path)
