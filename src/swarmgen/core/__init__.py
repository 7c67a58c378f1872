"""The rules of swarmgen: pure, deterministic, no I/O, no torch, no web framework."""
