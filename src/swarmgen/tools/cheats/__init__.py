"""The cheater zoo: workers and validators that misbehave, for tests and benchmarks.

- :mod:`.backend` — :class:`Cheat` and :class:`CheatingBackend`, an honest backend
  wrapper that cheats on a share of its jobs.
- :mod:`.build` — :func:`make_cheater`, which builds one from the registry with the
  accomplice model it needs.
- :mod:`.validators` — honest, lazy and colluding validators and :func:`run_panel`.
"""

from swarmgen.tools.cheats.backend import Cheat, CheatingBackend, alter_prompt, cheats_for
from swarmgen.tools.cheats.validators import (
    ColludingValidator,
    HonestValidator,
    LazyValidator,
    Validator,
    run_panel,
)

__all__ = [
    "Cheat",
    "CheatingBackend",
    "ColludingValidator",
    "HonestValidator",
    "LazyValidator",
    "Validator",
    "alter_prompt",
    "cheats_for",
    "run_panel",
]
