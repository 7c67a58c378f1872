"""The folder blob store: small blobs in its pack, larger ones as files, and what every
process and thread writing one folder sees."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from swarmgen.blobs import SMALL_MAX, BlobCorrupt, FileBlobStore, blob_key, pack
from swarmgen.errors import StorageUnavailable


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("small.sqlite3")]


def packed(root: Path) -> int:
    with contextlib.closing(sqlite3.connect(root / "small.sqlite3")) as db:
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
    reader = FileBlobStore(tmp_path)  # another store on the folder, with its own connections
    for batch, written in zip(batches, keys, strict=True):
        assert [reader.get(key) for key in written] == batch


def _refused_after_fork(store: FileBlobStore) -> None:
    try:
        store.put(b"written by the child")
    except RuntimeError:
        raise SystemExit(0) from None
    raise SystemExit(3)  # it wrote through a pack whose locks it does not hold


def test_a_forked_process_cannot_use_its_parents_pack(tmp_path: Path) -> None:
    """SQLite's locks are the opening process's: a child writing through them could lose
    its writes when the parent closes, with no error (seen), so it is refused."""
    store = FileBlobStore(tmp_path)
    mine = store.put(b"written before the fork")
    child = multiprocessing.get_context("fork").Process(target=_refused_after_fork, args=(store,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert store.get(mine) == b"written before the fork"
    with pytest.raises(KeyError):
        store.get(blob_key(b"written by the child"))


def _write_from_process(root: Path, seed: int) -> list[str]:
    store = FileBlobStore(root)
    keys: list[str] = []
    for batch in range(10):
        keys += store.put_many([f"{seed}-{batch}-{i}".encode() for i in range(20)])
    store.close()
    return keys


def test_processes_starting_together_on_a_new_folder_all_write(tmp_path: Path) -> None:
    """Spawned processes (as ``--processes N`` starts them) make the pack at once, each
    switching it to WAL mode: none fails for the race, and each sees every write."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        written = pool.starmap(_write_from_process, [(tmp_path, seed) for seed in range(4)])
    reader = FileBlobStore(tmp_path)
    for seed, keys in enumerate(written):
        assert [reader.get(k) for k in keys[:3]] == [f"{seed}-0-{i}".encode() for i in range(3)]
    assert packed(tmp_path) == 4 * 10 * 20
    reader.close()


def test_a_failed_write_leaves_no_lock_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileBlobStore(tmp_path)
    store.put(b"first")
    with pytest.raises(StorageUnavailable):  # fails inside its transaction: rolled back
        store.pack.put_many([(blob_key(b"x"), {"not": "bytes"})])  # type: ignore[list-item]
    monkeypatch.setattr(pack, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(tmp_path / "small.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write
    busy = FileBlobStore(tmp_path)  # opened with the short timeout
    with pytest.raises(StorageUnavailable):
        busy.put(b"waits, then gives up")
    holder.execute("ROLLBACK")
    holder.close()
    assert busy.get(busy.put(b"then writes")) == b"then writes"
    assert store.get(store.put(b"so does the first store")) == b"so does the first store"


def test_a_broken_pack_hides_no_file(tmp_path: Path) -> None:
    writer = FileBlobStore(tmp_path)
    large = os.urandom(SMALL_MAX + 1)
    large_key, small_key = writer.put_many([large, b"small"])
    writer.close()
    for name in ("small.sqlite3-wal", "small.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / "small.sqlite3").write_bytes(b"not a database at all" * 100)
    store = FileBlobStore(tmp_path)
    assert store.get(large_key) == large  # a file is read whatever the pack's state
    with pytest.raises(StorageUnavailable):  # not "absent": the pack cannot say
        store.get(small_key)
    with pytest.raises(StorageUnavailable):
        store.put(b"small too")
