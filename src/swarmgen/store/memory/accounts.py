"""Users and keys, workers and nonces, in memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from swarmgen.store.memory.tables import Tables
from swarmgen.store.records import IdempotentRequest, KeyRecord, UserRecord, WorkerRecord


class MemoryUsers:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def create(self, user: UserRecord) -> UserRecord:
        if user.id in self.t.users or self.by_name(user.name) is not None:
            raise ValueError(f"user {user.name} exists")
        self.t.users[user.id] = user
        return user

    def create_if_missing(self, user: UserRecord) -> UserRecord:
        found = self.by_name(user.name)
        if found is not None:
            return found
        self.t.users[user.id] = user
        return user

    def by_name(self, name: str) -> UserRecord | None:
        return next((u for u in self.t.users.values() if u.name == name), None)

    def by_id(self, user_id: str) -> UserRecord | None:
        return self.t.users.get(user_id)

    def all(self) -> list[UserRecord]:
        return sorted(self.t.users.values(), key=lambda u: u.name)

    def set_role(self, user_id: str, role: str) -> None:
        if user_id in self.t.users:
            self.t.users[user_id] = replace(self.t.users[user_id], role=role)

    def add_key(self, key_id: str, user_id: str, key_hash: str, prefix: str, now: int) -> None:
        self.t.keys[key_id] = (KeyRecord(key_id, user_id, prefix, now, None), key_hash)

    def by_key_hash(self, key_hash: str) -> UserRecord | None:
        for key, stored in self.t.keys.values():
            if stored == key_hash and key.revoked_ms is None:
                return self.t.users.get(key.user_id)
        return None

    def keys(self, user_id: str) -> list[KeyRecord]:
        mine = [key for key, _ in self.t.keys.values() if key.user_id == user_id]
        return sorted(mine, key=lambda k: (k.created_ms, k.id))

    def revoke(self, user_id: str, now: int, key_id: str | None = None) -> int:
        revoked = 0
        for kid, (key, stored) in list(self.t.keys.items()):
            live = key.user_id == user_id and key.revoked_ms is None
            if live and key_id in (None, kid):
                self.t.keys[kid] = (replace(key, revoked_ms=now), stored)
                revoked += 1
        return revoked


class MemoryWorkers:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def register(self, worker: WorkerRecord) -> None:
        previous = self.t.workers.get(worker.id)
        if previous is not None:
            worker = replace(worker, registered_ms=previous.registered_ms)
        self.t.workers[worker.id] = worker

    def get(self, worker_id: str) -> WorkerRecord | None:
        return self.t.workers.get(worker_id)

    def touch(self, worker_id: str, now: int) -> None:
        if worker_id in self.t.workers:
            self.t.workers[worker_id] = replace(self.t.workers[worker_id], last_seen_ms=now)

    def owners(self, worker_ids: Iterable[str]) -> dict[str, str]:
        found = (self.t.workers.get(w) for w in set(worker_ids))
        return {w.id: w.owner_id for w in found if w is not None and w.owner_id}

    def seen_since(self, since_ms: int) -> list[WorkerRecord]:
        return [w for w in self.t.workers.values() if w.last_seen_ms >= since_ms]

    def keys_of(self, owner_ids: Iterable[str]) -> dict[str, list[str]]:
        wanted = set(owner_ids)
        out: dict[str, list[str]] = {}
        for worker in sorted(self.t.workers.values(), key=lambda w: w.id):
            if worker.owner_id in wanted:
                out.setdefault(worker.owner_id, []).append(worker.id)
        return out


class MemoryNonces:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def remember(self, worker_id: str, nonce: str, now: int) -> bool:
        if (worker_id, nonce) in self.t.nonces:
            return False
        self.t.nonces[(worker_id, nonce)] = now
        return True

    def prune(self, before_ms: int) -> int:
        stale = [k for k, seen in self.t.nonces.items() if seen < before_ms]
        for key in stale:
            del self.t.nonces[key]
        return len(stale)


class MemoryIdempotency:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def get(self, user_id: str, key: str, since_ms: int) -> IdempotentRequest | None:
        found = self.t.idempotency.get((user_id, key))
        return found if found is not None and found.created_ms >= since_ms else None

    def claim(self, request: IdempotentRequest, since_ms: int) -> IdempotentRequest | None:
        earlier = self.get(request.user_id, request.key, since_ms)
        if earlier is None:
            self.t.idempotency[request.user_id, request.key] = request
        return earlier

    def prune(self, before_ms: int) -> int:
        old = [k for k, r in self.t.idempotency.items() if r.created_ms < before_ms]
        for k in old:
            del self.t.idempotency[k]
        return len(old)
