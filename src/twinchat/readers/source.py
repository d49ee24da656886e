"""Find the export file a user pointed at: a file, an export folder, or a zip of either."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from twinchat.errors import TwinchatError

HEAD_BYTES = 4096


@dataclass(frozen=True)
class Source:
    """One file inside what the user named, opened as many times as a reader needs."""

    label: str  # how messages name it to the user
    size: int
    open: Callable[[], BinaryIO]

    def head(self, n: int = HEAD_BYTES) -> bytes:
        with self.open() as stream:
            return stream.read(n)


def file_source(path: Path) -> Source:
    return Source(str(path), path.stat().st_size, lambda: path.open("rb"))


def zip_sources(path: Path) -> list[Source]:
    """Every member of a zip, shortest paths first (the export's own files before its media)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise TwinchatError(
            f"{path} is not a readable zip ({err}); unzip it or download it again"
        ) from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    members.sort(key=lambda m: (m.filename.count("/"), m.filename))
    return [
        Source(f"{path}!{m.filename}", m.file_size, _opener(archive, m.filename)) for m in members
    ]


def folder_sources(path: Path) -> list[Source]:
    """Files of a folder and its sub-folders, shallowest first, media folders skipped."""
    files = [p for p in path.rglob("*") if p.is_file() and len(p.relative_to(path).parts) <= 3]
    files.sort(key=lambda p: (len(p.relative_to(path).parts), str(p)))
    return [file_source(p) for p in files]


def sources_of(path: Path) -> list[Source]:
    """The candidate files of a path, or a one-line error when there are none."""
    if not path.exists():
        raise TwinchatError(f"{path}: no such file or folder; check the path")
    if path.is_dir():
        return folder_sources(path)
    if zipfile.is_zipfile(path):
        return zip_sources(path)
    return [file_source(path)]


def _opener(archive: zipfile.ZipFile, name: str) -> Callable[[], BinaryIO]:
    return lambda: archive.open(name)  # type: ignore[return-value]
