"""Blobs in a bucket through the S3 API (AWS S3, MinIO, Ceph, moto …), for replicas that
share no disk.

Objects are named ``PREFIX/ab/abcdef…`` by their SHA-256, like the file store's paths.
The store trusts the server for nothing it can check itself: every read is hashed and
compared with its key (:func:`swarmgen.blobs.checked`), so a bucket that hands back other
bytes, by fault or by tampering, yields :class:`~swarmgen.blobs.BlobCorrupt`, never wrong
content. Writes carry their SHA-256 (``ChecksumSHA256``) for servers that verify uploads,
but correctness does not depend on them doing so.

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` …, a profile, an
instance role); nothing secret lives in the coordinator's settings. boto3 is imported here
only, so a coordinator on files never loads it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from swarmgen.blobs import checked, is_key
from swarmgen.errors import StorageUnavailable

S3Client = Any
"""boto3's S3 client (generated at run time, so untyped here)."""

_ABSENT = frozenset({"NoSuchKey", "404", "NotFound"})
_PARALLEL = 8
"""Most uploads one :meth:`S3BlobStore.put_many` has in flight."""


@dataclass(frozen=True)
class S3Location:
    """Where the blobs live: a bucket, a prefix inside it, and the endpoint that serves it."""

    bucket: str
    prefix: str = "blobs"
    endpoint_url: str | None = None
    """None for AWS itself; e.g. ``http://127.0.0.1:9000`` for MinIO or moto."""
    region: str | None = None


def s3_client(location: S3Location, *, pool: int = 16) -> S3Client:
    """A client for ``location``: path-style addressing (works with any S3-compatible
    server), SigV4, bounded timeouts and standard retries."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=pool,
    )
    return boto3.client(
        "s3",
        endpoint_url=location.endpoint_url,
        region_name=location.region or "us-east-1",
        config=config,
    )


class S3BlobStore:
    """Content-addressed blobs in one bucket; links are presigned ``GetObject`` URLs."""

    def __init__(self, location: S3Location, client: S3Client | None = None) -> None:
        self.location = location
        self.client = client if client is not None else s3_client(location)
        self._prefix = location.prefix.strip("/")
        self._io = ThreadPoolExecutor(_PARALLEL, thread_name_prefix="s3-put")

    def name(self, key: str) -> str:
        """The object name of blob ``key``; ``KeyError`` for anything not a blob key (no
        caller-chosen text ever reaches the bucket as a name)."""
        if not is_key(key):
            raise KeyError(key)
        return f"{self._prefix}/{key[:2]}/{key}" if self._prefix else f"{key[:2]}/{key}"

    def check(self) -> None:
        """Fail at start-up, not at the first job, when the bucket is missing or refused."""
        try:
            self.client.head_bucket(Bucket=self.location.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(
                f"blob bucket {self.location.bucket!r} is not reachable: {exc}"
            ) from exc

    def close(self) -> None:
        """Nothing to release: the client's connections close with the process."""

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).digest()
        key = digest.hex()
        try:
            # No existence check: a blob is its content, so writing it again changes nothing.
            self.client.put_object(
                Bucket=self.location.bucket,
                Key=self.name(key),
                Body=data,
                ContentType="application/octet-stream",
                ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"could not store blob {key}: {exc}") from exc
        return key

    def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        """Several requests at once: each waits on the network, not the CPU."""
        if len(blobs) < 2:
            return [self.put(data) for data in blobs]
        return list(self._io.map(self.put, blobs))

    def get(self, key: str) -> bytes:
        name = self.name(key)
        try:
            answer = self.client.get_object(Bucket=self.location.bucket, Key=name)
            data = answer["Body"].read()
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                raise KeyError(key) from None
            raise StorageUnavailable(f"could not read blob {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"could not read blob {key}: {exc}") from exc
        return checked(key, data)

    def link(self, key: str, media_type: str, expires_s: int) -> str:
        """A presigned ``GetObject`` URL that answers with ``media_type``.

        Signing is local (no request to the server), so a link to an absent blob is a
        link to a 404; callers hand out links only for keys a completed job recorded.
        """
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.location.bucket,
                    "Key": self.name(key),
                    "ResponseContentType": media_type,
                },
                ExpiresIn=expires_s,
            )
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
