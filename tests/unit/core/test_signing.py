from __future__ import annotations

from swarmgen.core.signing import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KeyPair,
    fresh,
    request_message,
    sign_request,
    verify,
)


def test_signed_request_verifies_and_any_change_breaks_it() -> None:
    keys = KeyPair.generate()
    headers = sign_request(keys, "POST", "/api/v1/workers/pop", b'{"wait_s":1}', 1000, nonce="n1")
    assert headers[HEADER_KEY] == keys.public_key
    message = request_message("POST", "/api/v1/workers/pop", b'{"wait_s":1}', 1000, "n1")
    assert verify(keys.public_key, message, headers[HEADER_SIGNATURE])
    for changed in [
        request_message("GET", "/api/v1/workers/pop", b'{"wait_s":1}', 1000, "n1"),
        request_message("POST", "/api/v1/workers/submit", b'{"wait_s":1}', 1000, "n1"),
        request_message("POST", "/api/v1/workers/pop", b'{"wait_s":2}', 1000, "n1"),
        request_message("POST", "/api/v1/workers/pop", b'{"wait_s":1}', 1001, "n1"),
        request_message("POST", "/api/v1/workers/pop", b'{"wait_s":1}', 1000, "n2"),
    ]:
        assert not verify(keys.public_key, changed, headers[HEADER_SIGNATURE])
    assert headers[HEADER_TIMESTAMP] == "1000"
    assert headers[HEADER_NONCE] == "n1"


def test_wrong_key_and_garbage_do_not_verify() -> None:
    keys, other = KeyPair.generate(), KeyPair.generate()
    signature = keys.sign(b"hello")
    assert not verify(other.public_key, b"hello", signature)
    assert not verify("not-a-key", b"hello", signature)
    assert not verify(keys.public_key, b"hello", "%%%")


def test_key_round_trips_through_its_seed() -> None:
    keys = KeyPair.generate()
    assert KeyPair.from_seed(keys.seed).public_key == keys.public_key


def test_freshness_window() -> None:
    assert fresh(1000, 1030.0, 60)
    assert not fresh(1000, 1061.0, 60)
    assert not fresh(1100, 1000.0, 60)
