"""Shape of the federation feed route: one signed page (docs/exchanges.md#federation)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FederationPagePublic(BaseModel):
    """A signed page of the federation feed.

    ``page`` is the page's canonical JSON text, exactly the bytes (UTF-8) that ``signature``
    signs; parse it only after verifying the signature with the publisher's public key
    (:mod:`safehold.exchanges.federation_protocol` describes the page's fields).
    """

    algorithm: str = Field(description="always ed25519")
    page: str = Field(description="the signed page: canonical JSON text")
    signature: str = Field(description="base64 of the Ed25519 signature of the page's bytes")
