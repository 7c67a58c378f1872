"""Tools outside the runtime: calibration, the cheater zoo and shapes-64 training.

The coordinator, the worker, the store, the SDK, the core and the backends never import
this package (an import contract in ``pyproject.toml`` and a test keep it so); the CLI
commands that need a tool import it inside the command, and tests and benchmarks import
it directly.
"""
