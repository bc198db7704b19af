"""Exchange credentials, encrypted at rest with Fernet; the key never enters the database.

Credentials (NCMEC user name and password, StopNCII keys, ThreatExchange tokens) are stored as
one Fernet token per exchange (``exchanges.credentials``): AES-128-CBC with HMAC-SHA256
(Fernet spec, https://github.com/fernet/spec/blob/master/Spec.md, via ``cryptography``).

The key ring comes from ``SAFEHOLD_EXCHANGE_KEY`` (comma-separated Fernet keys) or the file named
by ``SAFEHOLD_EXCHANGE_KEY_FILE`` (one key per line); the first key encrypts, every key decrypts
(``cryptography``'s ``MultiFernet``). Rotation: put the new key first, run
``safehold exchange rekey`` (re-encrypts every exchange with the first key), then drop the
old key. ``safehold exchange new-key`` prints a fresh key.

Secrets never appear in messages, logs or ``repr``: :class:`Credentials` hides its values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from safehold.errors import ConfigurationError
from safehold.settings import Settings

_KEY_HELP = (
    "set SAFEHOLD_EXCHANGE_KEY or SAFEHOLD_EXCHANGE_KEY_FILE to a Fernet key "
    "(make one with `safehold exchange new-key`)"
)


class Credentials(Mapping[str, str]):
    """Decrypted credentials: a read-only ``name -> secret`` map whose ``repr`` shows the
    names only."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({', '.join(sorted(self._values))}: hidden)"

    __str__ = __repr__


def new_key() -> str:
    """A fresh Fernet key (URL-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode("ascii")


def _key_texts(settings: Settings) -> list[str]:
    if settings.exchange_key is not None:
        text = settings.exchange_key.get_secret_value()
        return [k.strip() for k in text.split(",") if k.strip()]
    if settings.exchange_key_file is not None:
        try:
            text = settings.exchange_key_file.read_text("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read SAFEHOLD_EXCHANGE_KEY_FILE ({type(exc).__name__})"
            ) from None
        return [k.strip() for k in text.splitlines() if k.strip() and not k.startswith("#")]
    return []


class CredentialBox:
    """Encrypts and decrypts exchange credentials with the configured key ring.

    Raises (constructor):
        ConfigurationError: no key configured, the key file is unreadable, or a key is not a
            Fernet key (the message never quotes the key).
    """

    def __init__(self, settings: Settings) -> None:
        texts = _key_texts(settings)
        if not texts:
            raise ConfigurationError(f"no exchange credential key: {_KEY_HELP}")
        keys: list[Fernet] = []
        for number, text in enumerate(texts, 1):
            try:
                keys.append(Fernet(text.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise ConfigurationError(
                    f"exchange credential key {number} is not a Fernet key "
                    "(32 bytes, URL-safe base64)"
                ) from None
        self._ring = MultiFernet(keys)

    def encrypt(self, credentials: Mapping[str, str]) -> bytes:
        """The Fernet token of ``credentials`` (JSON inside)."""
        return self._ring.encrypt(json.dumps(dict(credentials), sort_keys=True).encode("utf-8"))

    def decrypt(self, token: bytes, exchange: str) -> Credentials:
        """Decrypt the credentials of ``exchange``.

        Raises:
            ConfigurationError: no configured key opens the token (a wrong or rotated-out key)
                or it was tampered with.
        """
        try:
            values = json.loads(self._ring.decrypt(token))
        except (InvalidToken, ValueError):
            raise ConfigurationError(
                f"cannot decrypt the credentials of exchange {exchange!r}: the exchange key "
                "is wrong, or the key that encrypted them was removed before "
                "`safehold exchange rekey` ran"
            ) from None
        return Credentials({str(k): str(v) for k, v in values.items()})

    def rotate(self, token: bytes, exchange: str) -> bytes:
        """Re-encrypt ``token`` with the first key (see the module docstring).

        Raises:
            ConfigurationError: as :meth:`decrypt`.
        """
        try:
            return self._ring.rotate(token)
        except InvalidToken:
            self.decrypt(token, exchange)  # raises the explanatory error
            raise  # pragma: no cover - decrypt always raises for a token rotate refused
