"""Webhook signatures: how Safehold signs a delivery and how a receiver checks it.

The scheme follows Stripe's webhook signatures
(https://docs.stripe.com/webhooks#verify-manually): the sender computes
``HMAC-SHA256(secret, f"{timestamp}.{body}")`` over the exact body bytes and sends

    Safehold-Timestamp: 1767225600
    Safehold-Signature: v1=5f2b...e9 (lower-case hex)
    Safehold-Delivery-Id: 42

A receiver recomputes the HMAC with the secret it was given when the action was made,
compares in constant time, refuses timestamps outside a tolerance (replays), and drops
deliveries whose ``Safehold-Delivery-Id`` it has processed already (delivery is at least once).
Several ``v1=`` values separated by commas are accepted, for secret rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300  # Stripe's default tolerance: five minutes


def compute_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """Return the lower-case hex HMAC-SHA256 of ``b"{timestamp}." + body`` keyed by the
    UTF-8 ``secret``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``Safehold-Signature`` header value: ``v1=<hex>``."""
    return f"{SCHEME}={compute_signature(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Check a delivery as a receiver: True when ``signature`` (the ``Safehold-Signature``
    header) holds a ``v1`` HMAC of ``timestamp`` and ``body`` under ``secret`` and the
    timestamp is within ``tolerance_s`` seconds of ``now`` (default: the clock).

    Args:
        body: the raw request body, before any JSON parsing.
        timestamp: the ``Safehold-Timestamp`` header (Unix seconds).

    Never raises on malformed input: returns False.
    """
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    expected = compute_signature(secret, timestamp.strip(), body)
    for part in signature.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and hmac.compare_digest(value.strip().lower(), expected):
            return True
    return False
