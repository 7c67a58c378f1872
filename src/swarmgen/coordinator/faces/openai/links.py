"""Signed, expiring links to generated images: ``/v1/files/images/{job}/{index}``.

A link carries its owner's user id, its expiry and an HMAC-SHA256 over
``user/job/index/expiry`` with a secret
derived from the coordinator's key, so every replica that shares the key serves every
link, anyone holding a link may fetch that one image until it expires, and nobody can
make a link to another job or stretch an expiry.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from swarmgen.core.signing import KeyPair
from swarmgen.errors import Forbidden

LINK_TTL_S = 3600
"""How long an image link works."""
PATH = "/v1/files/images"


class LinkExpired(Forbidden):
    code = "link_expired"


@dataclass(frozen=True)
class Links:
    secret: bytes
    ttl_s: int = LINK_TTL_S

    @classmethod
    def from_key(cls, keys: KeyPair, ttl_s: int = LINK_TTL_S) -> Links:
        return cls(hashlib.sha256(b"swarmgen image links\0" + keys.seed).digest(), ttl_s)

    def _mac(self, user_id: str, job_id: str, index: int, expires: int) -> str:
        message = f"{user_id}/{job_id}/{index}/{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def make(self, base_url: str, user_id: str, job_id: str, index: int, now_s: int) -> str:
        expires = now_s + self.ttl_s
        sig = self._mac(user_id, job_id, index, expires)
        query = f"u={user_id}&expires={expires}&sig={sig}"
        return f"{base_url.rstrip('/')}{PATH}/{job_id}/{index}?{query}"

    def check(
        self, user_id: str, job_id: str, index: int, *, expires: int, sig: str, now_s: int
    ) -> None:
        """Raise 403 unless the signature is this coordinator's and the link is live."""
        if not hmac.compare_digest(self._mac(user_id, job_id, index, expires), sig):
            raise Forbidden("this link's signature does not match")
        if now_s > expires:
            raise LinkExpired("this link has expired; generate the image again")
