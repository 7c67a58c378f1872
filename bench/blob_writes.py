"""What storing a small blob costs the coordinator: a file each, or a row of the pack.

The folder blob store (:class:`swarmgen.blobs.FileBlobStore`) packs blobs of up to
``SMALL_MAX`` bytes in one SQLite file and writes larger ones as files. This measures
both ways on the same disk, in batches as result submissions write them: BLOBS random
blobs of SIZE bytes, BATCH a call, into a fresh folder under DIR, once with every blob a
file (``small_max=-1``, the layout before the pack) and once packed; then reads them all
back. Figures are microseconds per blob, of this process's CPU (``process_time``) and of
wall time.

Creating a file is the file system's work, and some file systems make it dear: ext4
without a journal (as on this project's test hosts) skips every inode freed in the last
minutes when it picks a new one, so a file created after a burst of deletions (a test
suite, a previous run cleaning up) cost hundreds of microseconds. ``--churn N`` first
creates and deletes N files beside the measured folder, to show that case on purpose;
the default measures the disk as it is.

    python bench/blob_writes.py --dir /tmp --blobs 3000 --size 300 --batch 10
    python bench/blob_writes.py --dir /tmp --churn 20000

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from swarmgen.blobs import SMALL_MAX, FileBlobStore


def churn(parent: Path, files: int) -> None:
    """Create and delete ``files`` small files under ``parent``."""
    folder = Path(tempfile.mkdtemp(prefix="churn-", dir=parent))
    for i in range(files):
        (folder / f"f{i}").write_bytes(b"x")
    shutil.rmtree(folder)


def measure(parent: Path, small_max: int, blobs: list[bytes], batch: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="blobs-", dir=parent))
    try:
        store = FileBlobStore(folder, small_max=small_max)
        cpu, wall = time.process_time(), time.perf_counter()
        keys: list[str] = []
        for start in range(0, len(blobs), batch):
            keys += store.put_many(blobs[start : start + batch])
        write_cpu, write_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu, wall = time.process_time(), time.perf_counter()
        for key in keys:
            store.get(key)
        read_cpu, read_wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        shutil.rmtree(folder)
    per = 1e6 / len(blobs)
    return {
        "write_cpu_us": round(write_cpu * per, 1),
        "write_wall_us": round(write_wall * per, 1),
        "read_cpu_us": round(read_cpu * per, 1),
        "read_wall_us": round(read_wall * per, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--blobs", type=int, default=3000, help="blobs written each way")
    parser.add_argument("--size", type=int, default=300, help="bytes a blob")
    parser.add_argument("--batch", type=int, default=10, help="blobs a put_many call")
    parser.add_argument("--churn", type=int, default=0, help="files made and deleted first")
    args = parser.parse_args()
    if args.size > SMALL_MAX:
        parser.error(f"--size must be at most {SMALL_MAX} (larger blobs are files either way)")
    if args.churn:
        churn(args.dir, args.churn)
    blobs = [os.urandom(args.size) for _ in range(args.blobs)]
    # Interleaved twice, so neither way gets the quieter spell of the disk alone.
    runs: dict[str, list[dict[str, float]]] = {"files": [], "pack": []}
    for _ in range(2):
        runs["files"].append(measure(args.dir, -1, blobs, args.batch))
        runs["pack"].append(measure(args.dir, SMALL_MAX, blobs, args.batch))
    figures = {
        way: {k: min(r[k] for r in results) for k in results[0]} for way, results in runs.items()
    }
    print(
        f"{args.blobs} blobs of {args.size} bytes, {args.batch} a call, under {args.dir}"
        f" (churn {args.churn}); µs per blob, the better of two runs each"
    )
    heads = ("write cpu", "write wall", "read cpu", "read wall")
    print(f"  {'way':6s} {heads[0]:>10s} {heads[1]:>11s} {heads[2]:>9s} {heads[3]:>10s}")
    for way, f in figures.items():
        print(
            f"  {way:6s} {f['write_cpu_us']:10.1f} {f['write_wall_us']:11.1f}"
            f" {f['read_cpu_us']:9.1f} {f['read_wall_us']:10.1f}"
        )
    settings = {"dir": str(args.dir), "blobs": args.blobs, "size": args.size}
    settings |= {"batch": args.batch, "churn": args.churn}
    print(json.dumps(settings | {way: f for way, f in figures.items()}))


if __name__ == "__main__":
    main()
