"""A worker's receipt as the contract reads it in a dispute.

The contract cannot check Ed25519, so it never judges a signature: a slash commits to
``keccak256`` of the judged receipt's chain encoding, and a dispute reveals that
encoding (decision 0018). The encoding is ``abi.encode(bytes32 job, bytes32 worker,
bytes32 output, bytes signature)`` with the job as SHA-256 over its id, the worker as
its raw public key, the output as the receipt's output digest and the worker's Ed25519
signature over the receipt, so anyone reading the chain can check that signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak

from swarmgen.chain.port import digest32, job_key, key32
from swarmgen.core.signing import unb64

_TYPES = ("bytes32", "bytes32", "bytes32", "bytes")


@dataclass(frozen=True)
class ChainReceipt:
    job: bytes
    worker: bytes
    output: bytes
    signature: bytes

    @classmethod
    def of(cls, job_id: str, worker_id: str, output_digest: str, signature: str) -> ChainReceipt:
        """From a receipt's fields as swarmgen writes them (ids, hex digest, base64url)."""
        return cls(job_key(job_id), key32(worker_id), digest32(output_digest), unb64(signature))

    def encode(self) -> bytes:
        return encode(list(_TYPES), [self.job, self.worker, self.output, self.signature])

    @property
    def digest(self) -> bytes:
        """What a slash commits to."""
        return keccak(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> ChainReceipt:
        job, worker, output, signature = decode(list(_TYPES), data)
        return cls(job, worker, output, signature)
