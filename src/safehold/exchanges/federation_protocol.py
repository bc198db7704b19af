"""The federation wire format: feed positions, canonical page bytes and Ed25519 signatures.

One Safehold publishes the banks it opted in to as a change feed (``GET /v1/federation/feed``,
:mod:`safehold.exchanges.federation_feed`); another fetches it as a ``safehold`` exchange
(:mod:`safehold.exchanges.federation`). Both sides share this module.

A **position** in the feed is ``"<change sequence>.<entry id>"`` (``"0.0"``: the start): every
item of the feed has one, items are served in position order, and a page's ``checkpoint`` is the
position of its last item. A page is a JSON object::

    {"format": "safehold-federation/1", "publisher": "<publisher id>", "after": "12.0",
     "checkpoint": "15.42", "more": true, "changes": [
        {"id": "41", "signal_type": "pdq", "value": "...", "quality": 100,
         "category": "vics:1", "deleted": false},
        {"id": "42", "deleted": true}]}

It travels as the exact bytes that were signed, inside an envelope::

    {"algorithm": "ed25519", "page": "<the page's canonical JSON text>",
     "signature": "<base64 of the Ed25519 signature of the page's UTF-8 bytes>"}

Canonical JSON: keys sorted, no insignificant white space, no floats (the JSON
Canonicalization Scheme, RFC 8785, agrees on such values). The subscriber verifies the
signature over the page bytes *before* parsing them, then checks that the page names the
publisher it expects and the ``after`` it asked for and that its checkpoint does not go
backwards: a page cannot be altered, replayed for another position or spliced from another
publisher's feed. Ed25519 (RFC 8032) via ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from safehold.errors import ConfigurationError, FetchError, InvalidInputError
from safehold.settings import Settings

FORMAT = "safehold-federation/1"
#: Largest value of a signed 64-bit database integer (SQLite INTEGER, PostgreSQL BIGINT).
MAX_DB_INT = 2**63 - 1
_POSITION = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})")
ALGORITHM = "ed25519"
_KEY_HELP = (
    "set SAFEHOLD_FEDERATION_KEY or SAFEHOLD_FEDERATION_KEY_FILE to an Ed25519 private key "
    "(make one with `safehold exchange federation-keygen`)"
)


@dataclass(frozen=True, slots=True, order=True)
class FeedPosition:
    """A position in a publisher's feed: ``(change sequence, entry id)``, ordered as tuples."""

    seq: int = 0
    entry_id: int = 0

    @classmethod
    def parse(cls, text: str | None) -> FeedPosition:
        """Parse ``"<seq>.<entry id>"`` (None or empty: the start).

        Raises:
            InvalidInputError: not two ASCII whole numbers from 0 to :data:`MAX_DB_INT` (the
                64-bit integer columns they are compared with) joined by a dot.
        """
        if not text:
            return cls()
        match = _POSITION.fullmatch(text)
        numbers = (int(match[1]), int(match[2])) if match else (-1, -1)
        if not all(0 <= n <= MAX_DB_INT for n in numbers):
            raise InvalidInputError(
                f"feed position {text[:50]!r} must be <sequence>.<entry id>: two whole numbers "
                f"from 0 to {MAX_DB_INT}"
            )
        return cls(*numbers)

    def __str__(self) -> str:
        return f"{self.seq}.{self.entry_id}"


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes (sorted keys, compact, UTF-8; floats refused).

    Raises:
        ValueError: a NaN or infinite float (pages never carry floats).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# -- keys --------------------------------------------------------------------------------------


def new_key_pair() -> tuple[bytes, str]:
    """A fresh Ed25519 key pair: ``(private key as PKCS#8 PEM bytes, public key text)``."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_key_text(private)


def public_key_text(private: Ed25519PrivateKey) -> str:
    """The public half of ``private`` as base64 of its 32 raw bytes (what subscribers set)."""
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """Parse a public key written by :func:`public_key_text`.

    Raises:
        InvalidInputError: not base64 of 32 bytes.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            "public_key must be the publisher's Ed25519 public key: base64 of 32 bytes, as "
            "`safehold exchange federation-keygen` prints it"
        ) from None


def _private_key(text: bytes) -> Ed25519PrivateKey:
    """A PKCS#8 PEM private key, or base64 of the 32-byte raw private key."""
    try:
        if text.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(
                base64.b64decode(text.strip(), validate=True)
            )
    except (binascii.Error, ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"the federation key is not an Ed25519 private key: {_KEY_HELP}")
    return key


def publisher_key(settings: Settings) -> Ed25519PrivateKey:
    """The publisher's signing key from ``federation_key`` or ``federation_key_file``.

    Raises:
        ConfigurationError: neither is set, the file cannot be read, or it holds no Ed25519
            private key (the message never shows the key).
    """
    if settings.federation_key is not None:
        return _private_key(settings.federation_key.get_secret_value().encode("ascii", "replace"))
    if settings.federation_key_file is not None:
        try:
            text = settings.federation_key_file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read SAFEHOLD_FEDERATION_KEY_FILE ({exc.strerror or exc})"
            ) from None
        return _private_key(text)
    raise ConfigurationError(f"this server publishes no federation feed: {_KEY_HELP}")


# -- pages ---------------------------------------------------------------------------------------


def sign_page(page: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    """The envelope of ``page``: its canonical JSON text and the Ed25519 signature of it."""
    data = canonical_json(page)
    return {
        "algorithm": ALGORITHM,
        "page": data.decode("utf-8"),
        "signature": base64.b64encode(key.sign(data)).decode("ascii"),
    }


def open_envelope(body: bytes, public_key: Ed25519PublicKey, what: str) -> dict[str, Any]:
    """Verify an envelope's signature and return its page (not yet checked against the
    request: :func:`check_page`).

    Raises:
        FetchError: not an envelope, the signature does not verify with ``public_key``, or
            the signed page is not a JSON object (messages name ``what``, never the body).
    """
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FetchError(f"{what} answered something that is not JSON") from None
    page_text = envelope.get("page") if isinstance(envelope, dict) else None
    signature = envelope.get("signature") if isinstance(envelope, dict) else None
    if not isinstance(page_text, str) or not isinstance(signature, str):
        raise FetchError(f"{what} answered no signed feed page")
    if envelope.get("algorithm") != ALGORITHM:
        raise FetchError(f"{what} signed the feed page with an algorithm other than Ed25519")
    data = page_text.encode("utf-8")
    try:
        public_key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        raise FetchError(
            f"{what}: the feed page's signature does not verify with the configured public "
            "key (page altered, or signed by another key); nothing from it was applied"
        ) from None
    page = json.loads(data)
    if not isinstance(page, dict):
        raise FetchError(f"{what}: the signed feed page is not a JSON object")
    return page


def check_page(
    page: dict[str, Any], *, publisher: str, after: FeedPosition, what: str
) -> FeedPosition:
    """Check a verified page against the request it answers; return its checkpoint.

    Raises:
        FetchError: another format, another publisher, another ``after`` than asked for (a
            page replayed for another position), a malformed checkpoint, or one before
            ``after`` (or equal to it on a page with changes).
    """
    if page.get("format") != FORMAT:
        raise FetchError(f"{what}: the feed page is not in the format {FORMAT}")
    if page.get("publisher") != publisher:
        raise FetchError(
            f"{what}: the feed page comes from another publisher than {publisher!r}; "
            "nothing from it was applied"
        )
    if page.get("after") != str(after):
        raise FetchError(
            f"{what}: the feed page answers another position than the one asked for "
            f"({after}); nothing from it was applied"
        )
    try:
        checkpoint = FeedPosition.parse(page.get("checkpoint") or "")
    except InvalidInputError:
        raise FetchError(f"{what}: the feed page's checkpoint is malformed") from None
    changes = page.get("changes")
    if not isinstance(changes, list) or not isinstance(page.get("more"), bool):
        raise FetchError(f"{what}: the feed page has no list of changes")
    if checkpoint < after or ((changes or page["more"]) and checkpoint == after):
        raise FetchError(
            f"{what}: the feed page's checkpoint {checkpoint} goes back from {after}; "
            "nothing from it was applied"
        )
    return checkpoint
