"""The coordinator: a FastAPI app that queues, leases, checks and records jobs."""
