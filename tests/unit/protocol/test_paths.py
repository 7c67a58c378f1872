"""The native paths are spelt once, under one prefix."""

from __future__ import annotations

from swarmgen.protocol import paths


def test_paths_sit_under_the_prefix() -> None:
    for path in (paths.JOBS, paths.WORKERS, paths.STAKE, paths.CREDITS, paths.LEDGER):
        assert path.startswith(paths.PREFIX + "/")
    assert paths.job("abc") == "/api/v1/jobs/abc"
    assert paths.STAKE.startswith(paths.WORKERS)
