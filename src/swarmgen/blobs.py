"""The blob-store port: content-addressed bytes (images, texts) keyed by SHA-256.

Keys are the hex digest of the content, so a blob is written once and any reader can
check what it got. :class:`FileBlobStore` keeps them under a folder; :class:`MemoryBlobStore`
is the in-package stand-in for tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; returns its key (hex SHA-256)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; ``KeyError`` when absent."""
        ...


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = blob_key(data)
        self._blobs[key] = data
        return key

    def get(self, key: str) -> bytes:
        return self._blobs[key]


class FileBlobStore:
    """Blobs as files ``ROOT/ab/abcdef…``, written atomically (temp file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._dirs: set[str] = set()

    def _path(self, key: str) -> str:
        if not _KEY.match(key):
            raise KeyError(key)
        return os.path.join(self.root, key[:2], key)

    def put(self, data: bytes) -> str:
        key = blob_key(data)
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
        return key

    def get(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise KeyError(key) from None
