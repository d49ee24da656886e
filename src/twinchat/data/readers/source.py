"""Find the export file a user pointed at: a file, an export folder, or a zip of either."""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from twinchat.errors import TwinchatError

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Iterator

    from twinchat.data.message import Message

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
    # the sizes a zip declares bound what reading a member gives (zipfile stops there), so a
    # member's size is known, and checked, before any of it is extracted
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:
        _check_ratio(path, member)
    members.sort(key=lambda m: (m.filename.count("/"), m.filename))
    return [
        Source(f"{path}!{m.filename}", m.file_size, _opener(archive, m.filename)) for m in members
    ]


MAX_RATIO = 200  # text and JSON compress 5-30 times, SQLite less; a zip bomb millions of times
RATIO_FROM = 64 << 20  # members smaller than this are harmless whatever their ratio


def _check_ratio(path: Path, member: zipfile.ZipInfo) -> None:
    """Refuse a member that would expand far beyond what any export compresses to."""
    size = member.file_size
    if size > RATIO_FROM and size > MAX_RATIO * max(member.compress_size, 1):
        raise TwinchatError(
            f"{path}!{member.filename} would expand {size // max(member.compress_size, 1):,} "
            f"times, to {size:,} bytes: not an export's file; unzip the export yourself and "
            "point at its folder"
        )


FOLDER_DEPTH = 5
"""How deep a folder's files are candidates: an unzipped Takeout's chats lie five down
(`takeout-…/Takeout/Google Chat/Groups/DM x/messages.json`), as deep as any export's."""


def folder_sources(path: Path) -> list[Source]:
    """Files of a folder and its sub-folders, shallowest first (the export's own before its
    media)."""
    files = [
        p for p in path.rglob("*") if p.is_file() and len(p.relative_to(path).parts) <= FOLDER_DEPTH
    ]
    files.sort(key=lambda p: (len(p.relative_to(path).parts), str(p)))
    return [file_source(p) for p in files]


def sources_of(path: Path) -> list[Source]:
    """The candidate files of a path, or a one-line error when there are none.

    Only regular files are read: a device (/dev/zero), a pipe or a socket never ends or never
    comes back, so it is refused before anything is read.
    """
    if not path.exists():
        raise TwinchatError(f"{path}: no such file or folder; check the path")
    if path.is_dir():
        return folder_sources(path)
    if not path.is_file():
        raise TwinchatError(
            f"{path} is not a regular file (a device, pipe or socket); point at the export "
            "file, its folder or its zip"
        )
    if zipfile.is_zipfile(path):
        return zip_sources(path)
    return [file_source(path)]


def combined_source(sources: Sequence[Source], label: str | None = None) -> Source:
    """Several files as one `Source`, for progress over a whole folder: opening it reads them
    one after another; its label is `label`, else the folder or zip they share."""
    ordered = list(sources)
    return Source(
        label or common_label([source.label for source in ordered]),
        sum(source.size for source in ordered),
        lambda: cast(BinaryIO, io.BufferedReader(_Chained(ordered))),
    )


# what separates the parts of a label: a folder's `/` or `\`, a zip's `!` before its member
SEPARATORS = re.compile(r"[/\\!]")


def base_name(label: str) -> str:
    """The file's name at the end of a label (`chats.zip!folder/chat.txt` -> `chat.txt`)."""
    return SEPARATORS.split(label)[-1]


def label_parts(label: str) -> list[str]:
    """The folders (a zip among them) and the file's name of a label, empty ones left out."""
    return [part for part in SEPARATORS.split(label) if part]


def folder_of(label: str) -> str:
    """The label without its file's name: the folder, zip or folder in a zip that holds it."""
    return "".join(re.split(r"([/\\!])", label)[:-2])


def common_label(labels: Sequence[str]) -> str:
    """The folder (or zip, or folder in a zip) that holds all the files."""
    folders = {folder_of(label) for label in labels}
    if len(folders) == 1:
        return folders.pop() or labels[0]
    zips = {label.split("!", 1)[0] for label in labels}
    if len(zips) == 1 and all("!" in label for label in labels):
        return zips.pop()
    try:
        return os.path.commonpath(labels) or labels[0]
    except ValueError:  # labels mixing absolute and relative paths
        return labels[0]


def first_line(error: Exception) -> str:
    """A parser error's message for a one-line error: yajl's span lines (and its C backend
    gives them as bytes)."""
    detail = error.args[0] if error.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", errors="replace")
    lines = str(detail).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


class _Chained(io.RawIOBase):
    """Files one after another, as one stream."""

    def __init__(self, sources: Sequence[Source]):
        self._pending = list(reversed(sources))
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while True:
            if self._current is None:
                if not self._pending:
                    return 0
                self._current = self._pending.pop().open()
            data = self._current.read(len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


def _opener(archive: zipfile.ZipFile, name: str) -> Callable[[], BinaryIO]:
    return lambda: archive.open(name)  # type: ignore[return-value]


class Export(Protocol):
    """What every reader returns."""

    format: str
    source: Source
    problems: Counter[str]
    chats: int

    @property
    def bytes_read(self) -> int: ...

    def __iter__(self) -> Iterator[Message]: ...
