"""Signed image links: only this coordinator's key makes them, and they expire."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from swarmgen.coordinator.faces.openai.links import LinkExpired, Links
from swarmgen.core.signing import KeyPair
from swarmgen.errors import Forbidden

KEYS = KeyPair.generate()


def parts(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    return split.path, {k: v[0] for k, v in parse_qs(split.query).items()}


def test_a_link_checks_until_it_expires() -> None:
    links = Links.from_key(KEYS, ttl_s=60)
    path, query = parts(links.make("http://c/", "u1", "job", 1, now_s=1000))
    assert path == "/v1/files/images/job/1"
    sig, expires = query["sig"], int(query["expires"])
    assert expires == 1060
    links.check("u1", "job", 1, expires=expires, sig=sig, now_s=1060)
    with pytest.raises(LinkExpired):
        links.check("u1", "job", 1, expires=expires, sig=sig, now_s=1061)


@pytest.mark.parametrize(
    ("user", "job", "index", "shift"),
    [("u2", "job", 1, 0), ("u1", "other", 1, 0), ("u1", "job", 0, 0), ("u1", "job", 1, 1)],
)
def test_any_changed_part_breaks_the_signature(user: str, job: str, index: int, shift: int) -> None:
    links = Links.from_key(KEYS)
    _, query = parts(links.make("http://c", "u1", "job", 1, now_s=0))
    with pytest.raises(Forbidden) as refused:
        links.check(user, job, index, expires=int(query["expires"]) + shift, sig=query["sig"],
                    now_s=0)  # fmt: skip
    assert not isinstance(refused.value, LinkExpired)


def test_another_coordinator_key_makes_other_links() -> None:
    mine, theirs = Links.from_key(KEYS), Links.from_key(KeyPair.generate())
    _, query = parts(theirs.make("http://c", "u1", "job", 0, now_s=0))
    with pytest.raises(Forbidden):
        mine.check("u1", "job", 0, expires=int(query["expires"]), sig=query["sig"], now_s=0)
    assert Links.from_key(KEYS).secret == mine.secret  # replicas sharing the key agree
