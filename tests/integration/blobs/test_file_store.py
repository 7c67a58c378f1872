"""The folder blob store: small blobs in its pack, larger ones as files, and what every
process and thread writing one folder sees."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from swarmgen.blobs import SMALL_MAX, BlobCorrupt, FileBlobStore, blob_key


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("small.sqlite3")]


def packed(root: Path) -> int:
    with sqlite3.connect(root / "small.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM blobs").fetchone()[0])


def test_small_blobs_are_packed_and_larger_ones_are_files(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    small, edge, large = os.urandom(300), os.urandom(SMALL_MAX), os.urandom(SMALL_MAX + 1)
    keys = store.put_many([small, edge, large, small])
    assert keys == [blob_key(small), blob_key(edge), blob_key(large), blob_key(small)]
    assert files_in(tmp_path) == [tmp_path / keys[2][:2] / keys[2]]  # no temp file left
    assert packed(tmp_path) == 2  # the repeated blob is one row
    assert [store.get(key) for key in keys] == [small, edge, large, small]
    assert FileBlobStore(tmp_path).get(keys[1]) == edge  # a store opened later reads it


def test_a_folder_written_before_the_pack_reads_as_it_was(tmp_path: Path) -> None:
    old = b"a text output stored as a file"
    key = blob_key(old)
    (tmp_path / key[:2]).mkdir()
    (tmp_path / key[:2] / key).write_bytes(old)
    assert FileBlobStore(tmp_path).get(key) == old


def test_a_large_blob_changed_on_disk_is_never_returned(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    large = os.urandom(SMALL_MAX + 10)
    key = store.put(large)
    Path(store._path(key)).write_bytes(b"short")
    with pytest.raises(BlobCorrupt):
        store.get(key)
    store.put(large)  # a rewrite heals it
    assert store.get(key) == large


def test_threads_writing_one_folder_lose_nothing(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    batches = [[os.urandom(50 + i) for i in range(20)] for _ in range(16)]
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(store.put_many, batches))
    reader = FileBlobStore(tmp_path)  # another store on the folder, as another process has
    for batch, written in zip(batches, keys, strict=True):
        assert [reader.get(key) for key in written] == batch


def _put_in_child(store: FileBlobStore, data: bytes) -> None:
    inherited = store.pack._local.conn  # the parent's, copied with this thread
    store.put(data)
    if store.pack._local.conn is inherited:  # a fork must open its own
        raise SystemExit(3)


def test_a_forked_process_opens_its_own_connection(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    mine = store.put(b"written before the fork")  # this thread now holds a connection
    child = multiprocessing.get_context("fork").Process(
        target=_put_in_child, args=(store, b"written by the child")
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert store.get(blob_key(b"written by the child")) == b"written by the child"
    assert store.get(mine) == b"written before the fork"
