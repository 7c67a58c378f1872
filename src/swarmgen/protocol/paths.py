"""Where the native protocol's endpoints live, spelt once for the face, SDK and worker."""

from __future__ import annotations

PREFIX = "/api/v1"
JOBS = f"{PREFIX}/jobs"
WORKERS = f"{PREFIX}/workers"
STAKE = f"{WORKERS}/stake"
CREDITS = f"{PREFIX}/credits"
LEDGER = f"{PREFIX}/ledger"


def job(job_id: str) -> str:
    return f"{JOBS}/{job_id}"


MODELS = f"{PREFIX}/models"
STATS = f"{PREFIX}/stats"
