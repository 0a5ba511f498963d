"""The parts of an upload shared by `Client` and `AsyncClient`: where the bytes
come from, and what was sent (for the progress callback and the final check).

An upload is a client stream: one metadata message (file name, upload id,
and, when the source can be read twice, its exact size and SHA-256, which the
server verifies), then the bytes in chunks, read as they are sent.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import grpc

from percolate import _models as m
from percolate._convert import upload_result
from percolate._errors import DataLoss, InvalidArgument
from percolate.v1 import upload_pb2 as up

CHUNK_SIZE = 1 << 20
"""Bytes per data message by default."""

UploadSource = str | os.PathLike[str] | BinaryIO
"""A path, or a binary file object open for reading."""

ProgressCallback = Callable[[int, int | None], object]
"""Called as `progress(bytes_sent, total_bytes_or_None)` before the first chunk and after each one."""


@dataclass
class Source:
    """The bytes of one upload, readable again when `rewindable`."""

    file_name: str
    size: int | None
    sha256: str
    rewindable: bool
    _path: str | None
    _file: BinaryIO | None
    _start: int

    @classmethod
    def of(cls, source: UploadSource, file_name: str | None, verify: bool) -> Source:
        """Describes `source`; with `verify`, hashes it first when it can be read twice."""
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            size = os.path.getsize(path)
            sha256 = ""
            if verify:
                with open(path, "rb") as file:
                    sha256 = _sha256(file)
            return cls(file_name or os.path.basename(path), size, sha256, True, path, None, 0)
        name = file_name or os.path.basename(str(getattr(source, "name", "") or ""))
        if not name:
            raise InvalidArgument(
                grpc.StatusCode.INVALID_ARGUMENT, "upload needs a file_name: the file object has no name"
            )
        seekable = bool(getattr(source, "seekable", lambda: False)())
        if not seekable:
            return cls(name, None, "", False, None, source, 0)
        start = source.tell()
        size = source.seek(0, os.SEEK_END) - start
        source.seek(start)
        sha256 = ""
        if verify:
            sha256 = _sha256(source)
            source.seek(start)
        return cls(name, size, sha256, True, None, source, start)

    def open(self) -> BinaryIO:
        """The bytes from the start (a new file for a path, the rewound file object otherwise)."""
        if self._path is not None:
            return open(self._path, "rb")
        assert self._file is not None
        if self.rewindable:
            self._file.seek(self._start)
        return self._file

    def release(self, reader: BinaryIO) -> None:
        """Closes `reader` if this source opened it."""
        if self._path is not None:
            reader.close()


class Sending:
    """One attempt at sending a `Source`: counts and hashes the bytes, reports
    progress, and keeps any error raised while reading (gRPC would otherwise
    turn it into a bare CANCELLED)."""

    def __init__(self, source: Source, chunk_size: int, progress: ProgressCallback | None) -> None:
        if chunk_size <= 0:
            raise InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, f"chunk_size must be positive, not {chunk_size}")
        self.source = source
        self.chunk_size = chunk_size
        self.progress = progress
        self.sent = 0
        self.hasher = hashlib.sha256()
        self.error: BaseException | None = None

    def started(self) -> None:
        """Reports that nothing is sent yet."""
        if self.progress is not None:
            self.progress(0, self.source.size)

    def chunk(self, data: bytes) -> up.UploadRequest:
        """Accounts for `data` and wraps it as the next message."""
        self.sent += len(data)
        self.hasher.update(data)
        return up.UploadRequest(chunk=data)

    def after_chunk(self) -> None:
        """Reports the bytes sent so far."""
        if self.progress is not None:
            self.progress(self.sent, self.source.size)

    def requests(self, first: up.UploadRequest, reader: BinaryIO) -> Iterator[up.UploadRequest]:
        """The whole stream, read from `reader` as it is sent (for the blocking client)."""
        try:
            yield first
            self.started()
            while data := reader.read(self.chunk_size):
                yield self.chunk(data)
                self.after_chunk()
        except Exception as exc:
            # Kept for the client to raise once the call has failed. (Not
            # GeneratorExit: that is gRPC no longer reading, not an error.)
            self.error = exc
            raise

    def check(self, answer: up.UploadResponse) -> m.UploadResult:
        """The server's answer, once it agrees with what was sent."""
        digest = self.hasher.hexdigest()
        if answer.size != self.sent or answer.sha256 != digest:
            raise DataLoss(
                grpc.StatusCode.DATA_LOSS,
                f"the server stored {answer.size} bytes with SHA-256 {answer.sha256},"
                f" but {self.sent} bytes with SHA-256 {digest} were sent",
                method="Upload",
            )
        return upload_result(answer)


def _sha256(file: BinaryIO) -> str:
    hasher = hashlib.sha256()
    while data := file.read(CHUNK_SIZE):
        hasher.update(data)
    return hasher.hexdigest()
