"""The blob-store port, the same tests on every adapter: memory, files, and a bucket on a
real S3-API server (moto's, on loopback).

The server is not trusted for integrity: it accepts a wrong ``ChecksumSHA256`` and a
tampered presigned signature (both shown below), so the store hashes what it reads back.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from swarmgen.blobs import BlobCorrupt, BlobStore, FileBlobStore, LinkingBlobStore, MemoryBlobStore
from swarmgen.blobs.s3 import S3BlobStore, S3Location

Tamper = Callable[[str, bytes], None]
"""Overwrite what the store holds under a key, behind the store's back."""


def tamper_folder(files: FileBlobStore, key: str, data: bytes) -> None:
    """Overwrite the pack's row of ``key``, or its file if the pack has none."""
    files.pack.create()
    with contextlib.closing(sqlite3.connect(files.pack.path)) as db, db:
        changed = db.execute(
            "UPDATE blobs SET data = ? WHERE key = ?", (data, bytes.fromhex(key))
        ).rowcount
    if not changed:
        Path(files._path(key)).write_bytes(data)


@pytest.fixture(params=["memory", "files", "s3"])
def store_and_tamper(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[BlobStore, Tamper]:
    if request.param == "memory":
        memory = MemoryBlobStore()
        return memory, memory._blobs.__setitem__
    if request.param == "files":
        files = FileBlobStore(tmp_path / "blobs")
        return files, functools.partial(tamper_folder, files)
    bucket: str = request.getfixturevalue("s3_bucket")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    s3 = S3BlobStore(S3Location(bucket=bucket, prefix="results/", endpoint_url=endpoint))
    s3.check()
    return s3, lambda key, data: s3.client.put_object(Bucket=bucket, Key=s3.name(key), Body=data)


def test_put_returns_the_content_address_and_get_reads_it_back(
    store_and_tamper: tuple[BlobStore, Tamper],
) -> None:
    store, _ = store_and_tamper
    data = os.urandom(70_000)
    key = store.put(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert store.get(key) == data
    assert store.put(data) == key  # writing the same content again is harmless
    assert store.get(key) == data
    empty = store.put(b"")
    assert store.get(empty) == b""


def test_an_absent_or_malformed_key_is_a_key_error(
    store_and_tamper: tuple[BlobStore, Tamper],
) -> None:
    store, _ = store_and_tamper
    with pytest.raises(KeyError):
        store.get(hashlib.sha256(b"never stored").hexdigest())
    if not isinstance(store, MemoryBlobStore):  # the adapters never turn a key into a name
        for bad in ("../../etc/passwd", "A" * 64, "ab", "0" * 63 + "/"):
            with pytest.raises(KeyError):
                store.get(bad)


def test_bytes_that_do_not_hash_to_their_key_are_never_returned(
    store_and_tamper: tuple[BlobStore, Tamper],
) -> None:
    store, tamper = store_and_tamper
    key = store.put(b"the worker's result")
    tamper(key, b"something else")
    with pytest.raises(BlobCorrupt):
        store.get(key)
    store.put(b"the worker's result")  # a rewrite heals it
    assert store.get(key) == b"the worker's result"


def test_only_a_bucket_hands_out_links(store_and_tamper: tuple[BlobStore, Tamper]) -> None:
    store, _ = store_and_tamper
    assert isinstance(store, LinkingBlobStore) == isinstance(store, S3BlobStore)


def test_a_presigned_link_serves_the_blob_with_its_media_type(
    s3_bucket: str, s3_endpoint: str
) -> None:
    store = S3BlobStore(S3Location(bucket=s3_bucket, endpoint_url=s3_endpoint))
    key = store.put(b"\x89PNG not really")
    answer = httpx.get(store.link(key, "image/png", 60), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content == b"\x89PNG not really"
    # Without the signature the bucket is private.
    assert httpx.get(f"{s3_endpoint}/{s3_bucket}/{store.name(key)}", timeout=10).status_code == 403


def test_what_the_local_server_does_not_enforce(s3_bucket: str, s3_endpoint: str) -> None:
    """Recorded so nobody builds on it: moto takes a wrong upload checksum and a forged
    link signature. Integrity is the store's own hash check; a client that follows a
    link checks the digest the coordinator stated (``Repr-Digest``)."""
    store = S3BlobStore(S3Location(bucket=s3_bucket, endpoint_url=s3_endpoint))
    wrong = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="  # SHA-256 of b""
    store.client.put_object(Bucket=s3_bucket, Key="x", Body=b"abc", ChecksumSHA256=wrong)
    key = store.put(b"payload")
    forged = store.link(key, "image/png", 60).replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert httpx.get(forged, timeout=10).status_code == 200


def test_a_missing_bucket_fails_the_check_and_a_dead_server_is_unavailable(
    s3_endpoint: str, s3_bucket: str
) -> None:
    from swarmgen.errors import StorageUnavailable
    from swarmgen.processes import free_port

    with pytest.raises(StorageUnavailable):
        S3BlobStore(S3Location(bucket="no-such-bucket-here", endpoint_url=s3_endpoint)).check()
    dead = S3BlobStore(S3Location(bucket=s3_bucket, endpoint_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(StorageUnavailable):
        dead.put(b"x")
    with pytest.raises(StorageUnavailable):
        dead.get(hashlib.sha256(b"x").hexdigest())


def test_put_many_stores_each_blob_and_answers_their_keys_in_order(
    store_and_tamper: tuple[BlobStore, Tamper],
) -> None:
    store, _ = store_and_tamper
    blobs = [os.urandom(size) for size in (0, 1, 300, 70_000, 300)]
    blobs.append(blobs[2])  # the same content twice: one blob, one key
    keys = store.put_many(blobs)
    assert keys == [hashlib.sha256(data).hexdigest() for data in blobs]
    assert [store.get(key) for key in keys] == blobs
    assert store.put_many([]) == []
