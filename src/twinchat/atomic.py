"""Outputs appear whole or not at all, readable by their owner only, and never destroy.

Every output folder holds a marker file, `.twinchat`; `--force` replaces only an empty folder or
one with that marker, never the current folder, the home folder or a folder above them.
Temporary files are created exclusively (`O_EXCL`, `O_NOFOLLOW`) under unpredictable names in
the target's own folder, so a planted symlink cannot redirect a write.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from twinchat.errors import TwinchatError

MARKER = ".twinchat"
"""The file that says a folder is twinchat's output, which `--force` may replace."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # absent on Windows, where symlinks need privileges


@contextmanager
def staged_folder(out: Path, force: bool = False) -> Iterator[Path]:
    """A private temporary folder beside `out`, moved into place when the block succeeds.

    Raises:
        TwinchatError: `out` exists and is not empty, and `force` is not set; or `force` is
            set and `out` is not a folder twinchat wrote, or is the current or home folder.
    """
    out = Path(os.path.abspath(out))  # `-o .` has no name to put a staging folder beside
    check_replaceable(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(staging, 0o700)
    try:
        with private_open(staging / MARKER) as marker:
            marker.write("written by twinchat; `--force` may replace this folder\n")
        yield staging
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_replaceable(out: Path, force: bool) -> None:
    """Raise unless `out` may become (or be replaced by) an output folder."""
    out = Path(os.path.abspath(out))
    resolved = out.resolve()
    for kind, protected in (("the current folder", Path.cwd()), ("your home", Path.home())):
        protected = protected.resolve()
        if resolved == protected or resolved in protected.parents:
            raise TwinchatError(
                f"{out} is {kind}{' or above it' if resolved != protected else ''}; "
                "name a new folder for the output, e.g. -o data/friends"
            )
    if out.exists() and not out.is_dir():
        raise TwinchatError(f"{out} is a file; choose a folder for the output")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise TwinchatError(f"{out} already exists and is not empty; choose another or add --force")
    if out.is_symlink() or not (out / MARKER).is_file():
        raise TwinchatError(
            f"{out} holds files twinchat did not write (it has no {MARKER} file), so --force "
            "will not replace it; move them away or choose another folder"
        )


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def private_open(path: Path, mode: str = "w") -> IO[Any]:
    """Open a file that only its owner can read (0600), whatever the umask; never through a
    symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)  # the file may have existed with wider permissions
    if "b" in mode:
        return os.fdopen(fd, mode, buffering=1 << 20)
    return os.fdopen(fd, mode, encoding="utf-8", buffering=1 << 20)


def exclusive_temporary(path: Path, mode: str = "w") -> tuple[Path, IO[Any]]:
    """A new owner-only file beside `path`, under a name nobody could have planted."""
    path = Path(path)
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        if "b" in mode:
            return temporary, os.fdopen(fd, mode, buffering=1 << 20)
        return temporary, os.fdopen(fd, mode, encoding="utf-8", buffering=1 << 20)
    raise TwinchatError(f"could not create a temporary file beside {path}")


def write_private(path: Path, text: str) -> None:
    """Write a whole file atomically with owner-only permissions."""
    temporary, handle = exclusive_temporary(Path(path))
    try:
        with handle:
            handle.write(text)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
