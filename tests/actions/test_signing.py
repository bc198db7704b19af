"""Webhook signatures against a reference value computed with the openssl command:

    printf '%s' '1767225600.{"bank":"demo","entry_id":7,"type":"match"}' \
        | openssl dgst -sha256 -hmac 'whsec-test-secret'
"""

from __future__ import annotations

from safehold.actions.signing import compute_signature, signature_header, verify_signature

SECRET = "whsec-test-secret"
TIMESTAMP = 1767225600
BODY = b'{"bank":"demo","entry_id":7,"type":"match"}'
OPENSSL_HEX = "8a4cc2da859a017dc338b2b9fd66eb1a2959dc2fa2b6903a046c23b51d8cd54f"


def test_signature_matches_openssl() -> None:
    assert compute_signature(SECRET, TIMESTAMP, BODY) == OPENSSL_HEX
    assert signature_header(SECRET, TIMESTAMP, BODY) == f"v1={OPENSSL_HEX}"


def test_verify_accepts_the_genuine_delivery() -> None:
    header = f"v1={OPENSSL_HEX}"
    assert verify_signature(SECRET, BODY, str(TIMESTAMP), header, now=TIMESTAMP + 10)


def test_verify_refuses_tampering() -> None:
    header = f"v1={OPENSSL_HEX}"
    now = TIMESTAMP + 10
    tampered = BODY.replace(b'"entry_id":7', b'"entry_id":8')
    assert not verify_signature(SECRET, tampered, str(TIMESTAMP), header, now=now)
    assert not verify_signature("other-secret", BODY, str(TIMESTAMP), header, now=now)
    assert not verify_signature(SECRET, BODY, str(TIMESTAMP + 1), header, now=now)
    assert not verify_signature(SECRET, BODY, str(TIMESTAMP), f"v0={OPENSSL_HEX}", now=now)


def test_verify_refuses_stale_or_malformed_timestamps() -> None:
    header = f"v1={OPENSSL_HEX}"
    assert not verify_signature(SECRET, BODY, str(TIMESTAMP), header, now=TIMESTAMP + 301)
    assert verify_signature(
        SECRET, BODY, str(TIMESTAMP), header, now=TIMESTAMP + 3000, tolerance_s=3600
    )
    assert not verify_signature(SECRET, BODY, "yesterday", header, now=TIMESTAMP)
    assert not verify_signature(SECRET, BODY, str(TIMESTAMP), "", now=TIMESTAMP)


def test_verify_accepts_any_of_several_signatures() -> None:
    header = f"v1={'0' * 64}, v1={OPENSSL_HEX.upper()}"
    assert verify_signature(SECRET, BODY, str(TIMESTAMP), header, now=TIMESTAMP)
