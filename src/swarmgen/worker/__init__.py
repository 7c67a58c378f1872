"""The worker daemon: register, pop, run on a backend, sign, submit, heartbeat."""
