"""Horde request ids: a keyed permutation of job ids that horde_sdk's UUID parsing keeps."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.coordinator.faces.horde.ids import HordeIds, parse
from swarmgen.core.signing import KeyPair

IDS = HordeIds.from_key(KeyPair.generate())
JOB_IDS = st.builds(lambda n: uuid.UUID(int=n, version=4).hex, st.integers(0, 2**128 - 1))


@given(JOB_IDS)
def test_a_horde_id_leads_back_to_its_job(job_id: str) -> None:
    horde_id = IDS.public(job_id)
    assert IDS.job_id(horde_id) == job_id
    assert IDS.job_id(horde_id.upper()) == job_id
    assert IDS.job_id(uuid.UUID(horde_id).hex) == job_id
    # horde_sdk reads ids as uuid.UUID(text, version=4), which rewrites the version and
    # variant bits: a Horde id must already carry them, or the client sends another id
    assert str(uuid.UUID(horde_id, version=4)) == horde_id
    assert uuid.UUID(horde_id).hex != job_id


def test_without_the_key_a_job_id_tells_nothing_of_its_horde_id() -> None:
    other = HordeIds.from_key(KeyPair.generate())
    job_ids = [uuid.uuid4().hex for _ in range(200)]
    assert all(IDS.public(j) != other.public(j) for j in job_ids)
    assert len({IDS.public(j) for j in job_ids}) == len(job_ids)
    # one job id's bit flipped moves about half of the Horde id's bits
    flips = []
    for job_id in job_ids:
        near = f"{int(job_id, 16) ^ 1:032x}"
        a, b = uuid.UUID(IDS.public(job_id)).int, uuid.UUID(IDS.public(near)).int
        flips.append(bin(a ^ b).count("1"))
    assert 50 < sum(flips) / len(flips) < 72


def test_anything_but_a_version_4_uuid_leads_nowhere() -> None:
    for text in ("", "abc", "0" * 32, str(uuid.uuid1()), "g" * 32, "1" * 37, " " + "a" * 32):
        assert IDS.job_id(text) is None
    assert parse(str(uuid.uuid4())) is not None
    assert parse(str(uuid.uuid4()) + "0") is None
