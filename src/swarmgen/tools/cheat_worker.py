"""A worker that cheats on purpose, for end-to-end tests and benchmarks only.

``python -m swarmgen.tools.cheat_worker --cheat noise --cheat-rate 1.0 --model M ...``
takes the ``swarmgen worker`` options that tests and benchmarks use, builds the real
worker and wraps each backend whose kind the cheat applies to. The production worker
has no such switch: a cheater is a separate program that imports the zoo.
"""

from __future__ import annotations

import argparse
import zlib
from collections.abc import Sequence
from pathlib import Path

from swarmgen.backends.base import Backend
from swarmgen.core.offerings import Offering
from swarmgen.registry import Registry
from swarmgen.tools.cheats.backend import Cheat
from swarmgen.worker.factory import BackendWrapper
from swarmgen.worker.settings import WorkerSettings


def cheating(cheat: Cheat, rate: float, settings: WorkerSettings) -> BackendWrapper:
    """A backend wrapper that applies ``cheat`` to ``rate`` of the jobs it fits."""
    from swarmgen.tools.cheats.build import make_cheater

    def wrap(backends: dict[Offering, Backend], registry: Registry) -> dict[Offering, Backend]:
        wrapped = dict(backends)
        for offering, backend in backends.items():
            if registry.entry(offering).kind in cheat.kinds:
                wrapped[offering] = make_cheater(
                    registry,
                    offering,
                    cheat,
                    rate=rate,
                    seed=zlib.crc32(settings.name.encode()),
                    cache_dir=settings.cache_dir,
                    threads=settings.threads,
                    inner=backend,
                )
        return wrapped

    return wrap


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m swarmgen.tools.cheat_worker")
    parser.add_argument("--cheat", required=True, choices=[str(c) for c in Cheat])
    parser.add_argument("--cheat-rate", type=float, default=1.0, help="Share of jobs cheated on.")
    parser.add_argument("--model", action="append", required=True, help="name@precision")
    parser.add_argument("--coordinator")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--name")
    parser.add_argument("--owner-key", help="Default: $SWARMGEN_API_KEY.")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--max-batch", type=int)
    parser.add_argument("--max-pixels", type=int)
    parser.add_argument("--pop-wait-s", type=float)
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser


def settings_from(args: argparse.Namespace) -> WorkerSettings:
    """The worker settings the parsed options describe (unset ones fall back to env)."""
    import os

    from swarmgen.cli.common import given

    return WorkerSettings(
        **given(
            models=args.model,
            coordinator_url=args.coordinator,
            data=args.data,
            name=args.name,
            owner_key=args.owner_key or os.environ.get("SWARMGEN_API_KEY"),
            threads=args.threads,
            max_batch=args.max_batch,
            max_pixels=args.max_pixels,
            pop_wait_s=args.pop_wait_s,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run a cheating worker until SIGTERM/SIGINT, like ``swarmgen worker``."""
    from swarmgen.cli.common import setup_logging
    from swarmgen.worker.factory import build_worker

    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    if not 0.0 <= args.cheat_rate <= 1.0:
        raise SystemExit("--cheat-rate must lie in [0, 1]")
    settings = settings_from(args)
    daemon = build_worker(settings, wrap=cheating(Cheat(args.cheat), args.cheat_rate, settings))
    daemon.install_signal_handlers()
    daemon.run()


if __name__ == "__main__":
    main()
