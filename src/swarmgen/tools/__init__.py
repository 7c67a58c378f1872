"""Tools outside the runtime: calibration, the cheater zoo and shapes-64 training.

The coordinator and the worker never import this package (a test keeps it so); the CLI
commands that need a tool import it inside the command, and tests and benchmarks import
it directly.
"""
