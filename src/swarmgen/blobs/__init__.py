"""The blob-store port: content-addressed bytes (images, texts) keyed by SHA-256.

Keys are the hex digest of the content, so a blob is written once and any reader can
check what it got. :class:`FileBlobStore` keeps them under a folder (the embedded default);
:class:`~swarmgen.blobs.s3.S3BlobStore` in a bucket through the S3 API, for replicas that
share no disk; :class:`MemoryBlobStore` is the in-package stand-in for tests.

A store whose reader is not the coordinator (a bucket) may also hand out a time-limited
link to one blob (:class:`LinkingBlobStore`), so results can be served by redirect.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from swarmgen.blobs.pack import BlobPack
from swarmgen.errors import StorageUnavailable

_KEY = re.compile(r"[0-9a-f]{64}")

SMALL_MAX = 8 * 1024
"""The largest blob :class:`FileBlobStore` packs (a text output, a small image). Up to
here a row cost less than a file to write and to read on every disk measured; at
16 KiB a file was cheaper to write on tmpfs (``bench/blob_writes.py --size``, decision
0035)."""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; returns its key (hex SHA-256)."""
        ...

    def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        """Store each of ``blobs``; their keys, in order. How (one by one, or several at
        once) is the store's: it knows what one write costs."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``, checked against it; ``KeyError`` when absent (or when
        what is stored does not hash to ``key``: :class:`BlobCorrupt`)."""
        ...

    def close(self) -> None:
        """Release what the store holds open; a later use may open it again."""
        ...


@runtime_checkable
class LinkingBlobStore(BlobStore, Protocol):
    """A blob store that can give a reader a link to one blob, valid for a while."""

    def link(self, key: str, media_type: str, expires_s: int) -> str:
        """A URL that serves the blob under ``key`` as ``media_type`` for ``expires_s``."""
        ...


class BlobCorrupt(KeyError):
    """What a store holds under a key does not hash to that key: never served as it."""


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_key(key: str) -> bool:
    """Whether ``key`` has a blob key's form (64 lowercase hex digits)."""
    return bool(_KEY.fullmatch(key))


def checked(key: str, data: bytes) -> bytes:
    """``data`` if it hashes to ``key``; :class:`BlobCorrupt` otherwise."""
    if blob_key(data) != key:
        raise BlobCorrupt(key)
    return data


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = blob_key(data)
        self._blobs[key] = data
        return key

    def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        return [self.put(data) for data in blobs]

    def get(self, key: str) -> bytes:
        return checked(key, self._blobs[key])

    def close(self) -> None:
        pass


class FileBlobStore:
    """Blobs under a folder: those of up to ``small_max`` bytes packed in one SQLite
    file, ``ROOT/small.sqlite3`` (:mod:`swarmgen.blobs.pack`: a file each cost most of a
    small blob's write), larger ones as files ``ROOT/ab/abcdef…``, written atomically
    (temp file, then rename). A blob is looked for in the pack first, then as a file, so
    a folder written before the pack existed is read as it was."""

    def __init__(self, root: Path, small_max: int = SMALL_MAX) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.small_max = small_max
        """The largest blob packed (-1: none, every blob a file)."""
        self.pack = BlobPack(root / "small.sqlite3")
        self._dirs: set[str] = set()

    def _path(self, key: str) -> str:
        if not is_key(key):
            raise KeyError(key)
        return os.path.join(self.root, key[:2], key)

    def put(self, data: bytes) -> str:
        (key,) = self.put_many([data])
        return key

    def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        """Small blobs in one pack transaction; each larger one as a file, one after
        another in the calling thread: a local write is a few system calls, and handing
        each to a pool thread cost about three times their CPU."""
        keys = [blob_key(data) for data in blobs]
        packed = []
        for key, data in zip(keys, blobs, strict=True):
            if len(data) <= self.small_max:
                packed.append((key, data))
            else:
                self._write(key, data)
        self.pack.put_many(packed)
        return keys

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        folder = os.path.dirname(path)
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)
        # No existence check: a blob is its content, so writing it again changes nothing.
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:  # a write may be short; finish it
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        """From the pack, else from its file. A pack that fails does not hide a file: it
        is :class:`~swarmgen.errors.StorageUnavailable` only for a blob with no file."""
        path = self._path(key)  # KeyError for a malformed key, before any lookup
        failed: StorageUnavailable | None = None
        try:
            data = self.pack.get(key)
        except StorageUnavailable as exc:
            data, failed = None, exc
        if data is None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                if failed is not None:
                    raise failed from None
                raise KeyError(key) from None
        return checked(key, data)

    def prepare(self) -> None:
        """Make the pack now, once, before server processes that start together race to."""
        self.pack.create()
        self.pack.close()

    def close(self) -> None:
        """Close the pack's connections (a later use opens them again)."""
        self.pack.close()
