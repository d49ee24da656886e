"""The reader kit: what readers share.

`FilesExport` reads the files of one app one after another as one export (LINE, KakaoTalk,
Matrix, Google Chat, Telegram's HTML export, IRC logs, Signal); `CountingStream` counts the bytes
read of a file, for progress and for the position an error names; `text_lines` decodes lines
one at a time, so that one bad byte costs one line, not the file. Labels are read with
`source.base_name`, and the order of day and month with `dates.infer_order`.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

from twinchat.data.message import Message
from twinchat.data.readers.source import Source, combined_source
from twinchat.errors import TwinchatError

# reads one file: (its source, its stream, the export's problems) -> its messages
ReadOne = Callable[[Source, io.BufferedReader, Counter[str]], Iterator[Message]]
BOM = b"\xef\xbb\xbf"


class CountingStream(io.RawIOBase):
    """A byte stream that counts what is read of it (`position`) and drops a UTF-8 byte-order
    mark at its start, which JSON parsers refuse; wrap it in `io.BufferedReader` to read lines."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        first = not self.position
        data = self._raw.read(len(buffer))
        self.position += len(data)
        if first and data.startswith(BOM):  # a file saved again by an editor
            data = data[len(BOM) :]
            if not data:
                return self.readinto(buffer)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


class FilesExport:
    """Files of one app read in order by `read_one`; each file is a chat unless `read_one`
    says otherwise (`chats` counts the distinct `chat_id`s read)."""

    def __init__(
        self, format: str, sources: Sequence[Source], read_one: ReadOne, label: str | None = None
    ):
        if not sources:
            raise TwinchatError(f"no {format} files to read")
        self.format = format
        self._sources = list(sources)
        self._read_one = read_one
        self.source = sources[0] if len(sources) == 1 else combined_source(sources, label)
        self.problems: Counter[str] = Counter()
        self.chats = 0
        self._done = 0  # bytes of the files already read
        self._stream: CountingStream | None = None

    @property
    def bytes_read(self) -> int:
        return self._done + (self._stream.position if self._stream else 0)

    def __iter__(self) -> Iterator[Message]:
        self.problems.clear()
        self._done = 0
        chats: set[str] = set()
        for source in self._sources:
            try:
                self._stream = CountingStream(source.open())
            except OSError as err:
                raise TwinchatError(f"{source.label} could not be opened ({err})") from None
            with io.BufferedReader(self._stream) as stream:
                try:
                    for message in self._read_one(source, stream, self.problems):
                        if message.chat_id not in chats:
                            chats.add(message.chat_id)
                            self.chats = len(chats)
                        yield message
                # a damaged zip member (its CRC, its compressed data), a vanished file
                except (OSError, EOFError, zipfile.BadZipFile) as err:
                    raise TwinchatError(
                        f"{source.label} could not be read ({err}); unzip it again or export "
                        "it again"
                    ) from None
            self._done += self._stream.position
            self._stream = None


# decodes a line that is not UTF-8 (its own charset guess), and the words its count takes
Legacy = str | tuple[Callable[[bytes], str], str]


def text_lines(
    stream: io.BufferedReader, problems: Counter[str], legacy: Legacy = "cp1252"
) -> Iterator[str]:
    """The lines of a text export without their ends: UTF-8 (a BOM dropped), or UTF-16 when the
    file starts with its BOM; a line that is not UTF-8 is decoded as `legacy` (the Windows
    code page the app used before UTF-8, or a function that picks one per line, with the name
    its count takes) and counted."""
    first = stream.peek(2)[:2]
    if first in (b"\xff\xfe", b"\xfe\xff"):
        # LINE and KakaoTalk for Windows can write UTF-16
        text = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline="")
        for line in text:
            yield line.rstrip("\r\n")
        return
    for number, raw in enumerate(stream):
        if number == 0:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        yield decode_line(raw.rstrip(b"\r\n"), problems, legacy)


def decode_line(raw: bytes, problems: Counter[str], legacy: Legacy = "cp1252") -> str:
    """One line on its own: UTF-8, else `legacy` (see `text_lines`), counted."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if isinstance(legacy, str):
            problems[f"line not UTF-8 (read as {legacy})"] += 1
            return raw.decode(legacy, errors="replace")
        guess, name = legacy
        problems[f"line not UTF-8 (read as {name})"] += 1
        return guess(raw)
