"""Content for the HMA-compatible routes: HMA's signal type names and selection rules, its
multipart upload convention, and fetching and hashing through Safehold's own safe paths.

HMA 2.x (``OpenMediaMatch/blueprints/hashing.py`` in facebook/ThreatExchange) picks the signal
types to compute from a ``content_type`` (``photo``/``video``; from the URL's Content-Type
header when not given) and an optional comma-separated ``types`` list, and takes uploads as
``multipart/form-data`` with exactly one file whose *field name* is the content type. Safehold
keeps those parameters but sniffs the content type from the bytes (never from a header or
name), hashes with the scan's recipe (:func:`safehold.matching.hash_upload`) and fetches URLs
with :class:`~safehold.fetching.UrlFetcher` (no private addresses, bounded size and time).

HMA's optional ``{"metadata": {...}}`` JSON body of ``POST /c/bank/{name}/content`` is
validated here too and kept, as JSON, in the new entries' note.

Signal type names: Safehold's (``pdq``, ``md5``, ``sha256``, ``vpdq``); HMA's ``video_md5``
(the MD5 of a video file's bytes) is accepted as another name for ``md5``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from safehold.api.schemas.hma import HmaContentMetadata
from safehold.api.state import ServiceState
from safehold.banks.validation import describe_name, signal_type_class
from safehold.errors import ContentTooLargeError, InvalidInputError, UnsupportedContentError
from safehold.matching import HashedContent, hash_upload
from safehold.signals import SIGNAL_TYPES

#: HMA signal type names that Safehold knows under another name.
SIGNAL_TYPE_ALIASES = {"video_md5": "md5"}

#: Longest HMA ``metadata`` kept (as JSON, in the entries' note).
MAX_METADATA_CHARS = 10_000
_METADATA_KEYS = ("content_id", "content_uri", "json")

#: Room for multipart boundaries and part headers on top of ``max_upload_bytes``.
FORM_OVERHEAD_BYTES = 64 * 1024

#: The multipart upload of ``POST /h/hash`` and ``POST /m/lookup`` for OpenAPI (the routes read
#: the body themselves, so FastAPI cannot document it): one file, in field ``photo`` or ``video``.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "one file, in field photo or field video",
                    "properties": {
                        "photo": {"type": "string", "format": "binary"},
                        "video": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


def resolve_signal_type(name: str) -> str:
    """Safehold's name for a signal type given by an HMA client (``video_md5`` -> ``md5``).

    Raises:
        InvalidInputError: no such signal type (422).
    """
    return signal_type_class(SIGNAL_TYPE_ALIASES.get(name, name)).name


def content_type_names() -> list[str]:
    """The content types some registered signal type hashes, sorted (``photo``, ``video``)."""
    return sorted({str(ct) for _, cls in SIGNAL_TYPES.items() for ct in cls.content_types})


def check_content_type(name: str | None) -> str | None:
    """Return ``name`` if it is None or a content type Safehold hashes.

    Raises:
        InvalidInputError: any other name.
    """
    if name is None or name in content_type_names():
        return name
    raise InvalidInputError(
        f"no such content_type {describe_name(name)} (known: {', '.join(content_type_names())})"
    )


def select_signal_types(types: str | None, content_type: str | None) -> list[str]:
    """The signal types to compute, HMA's way.

    Args:
        types: comma-separated names (``"pdq,md5"``), or None for every type that hashes
            the content.
        content_type: ``photo``/``video`` or None; narrows the default and must be hashed
            by every type named in ``types``.

    Returns:
        Safehold names, in the order given; empty means "every registered type"
        (:func:`safehold.matching.hash_upload`'s default).

    Raises:
        InvalidInputError: unknown content type or signal type, an empty selection, or a type
            that does not hash ``content_type``.
    """
    check_content_type(content_type)
    if types is None:
        if content_type is None:
            return []
        return [n for n, cls in SIGNAL_TYPES.items() if content_type in cls.content_types]
    names: list[str] = []
    for raw in types.split(","):
        if raw.strip():
            name = resolve_signal_type(raw.strip())
            if name not in names:
                names.append(name)
    if not names:
        raise InvalidInputError("empty signal type selection (types)")
    if content_type is not None:
        for name in names:
            if content_type not in SIGNAL_TYPES.get(name).content_types:
                raise InvalidInputError(f"signal type {name} does not hash {content_type}")
    return names


def hash_bytes(
    state: ServiceState, data: bytes, types: list[str], content_type: str | None
) -> HashedContent:
    """Hash ``data`` with ``types`` (empty: every type that hashes it).

    Raises:
        UnsupportedContentError: not a format Safehold decodes, none of ``types`` hashes it,
            or it is not ``content_type`` (415).
        ContentTooLargeError, ContentError: as :func:`safehold.matching.hash_upload`.
    """
    hashed = hash_upload(data, state.settings, types)
    if content_type is not None and hashed.content_type != content_type:
        raise UnsupportedContentError(
            f"the content is a {hashed.content_type}, not a {content_type} (content_type)"
        )
    return hashed


def fetch_and_hash(
    state: ServiceState, url: str, types: list[str], content_type: str | None
) -> HashedContent:
    """Fetch ``url`` (at most ``max_upload_bytes``) and hash it as :func:`hash_bytes` does.

    Raises:
        UnsafeUrlError: the URL or a redirect is refused (422).
        FetchError: the fetch failed upstream (502).
        ContentTooLargeError: the body is over ``max_upload_bytes`` (413).
        As :func:`hash_bytes` otherwise.
    """
    data = state.fetcher.fetch(url, max_bytes=state.settings.max_upload_bytes)
    return hash_bytes(state, data, types, content_type)


async def read_upload(request: Request, max_bytes: int) -> tuple[str, bytes]:
    """The one file of a ``multipart/form-data`` request and its field name (the content
    type, as HMA requires).

    Raises:
        InvalidInputError: not multipart, no file, more than one file, or a field name that
            is not a content type (422).
        ContentTooLargeError: the request or the file is over ``max_bytes`` (413).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD_BYTES:
        raise ContentTooLargeError(f"the upload is over the bound of {max_bytes} bytes")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInputError("missing multipart/form-data file upload")
    async with request.form(max_files=2, max_fields=20) as form:
        files = [(name, v) for name, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            raise InvalidInputError("missing multipart/form-data file upload")
        if len(files) > 1:
            raise InvalidInputError("only one file allowed per request")
        field, upload = files[0]
        if field not in content_type_names():
            raise InvalidInputError(
                "name the file's form field after its content type: "
                + " or ".join(content_type_names())
            )
        data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ContentTooLargeError(f"the upload is over the bound of {max_bytes} bytes")
    return field, data


def signal_strings(hashed: HashedContent) -> dict[str, str]:
    """``{signal type: value}`` of hashed content (HMA's ``/h/hash`` body)."""
    return {name: signal.value for name, signal in sorted(hashed.signals.items())}


async def metadata_note(request: Request) -> str:
    """HMA's optional ``{"metadata": {...}}`` JSON body as the entries' note ("" if none).

    Raises:
        InvalidInputError: ``metadata`` is not an object, has other keys than
            ``content_id``, ``content_uri`` and ``json``, or is too long.
    """
    if not request.headers.get("content-type", "").startswith("application/json"):
        return ""
    try:
        body = await request.json()
    except ValueError:
        raise InvalidInputError("the JSON body does not parse") from None
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if metadata is None:
        return ""
    if not isinstance(metadata, dict):
        raise InvalidInputError("metadata should be a JSON object")
    unexpected = sorted(str(k)[:40] for k in metadata if k not in _METADATA_KEYS)
    if unexpected:
        raise InvalidInputError(f"metadata contains unexpected keys: {', '.join(unexpected)}")
    try:
        parsed = HmaContentMetadata.model_validate(metadata)
    except ValidationError:
        raise InvalidInputError(
            "metadata: content_id and content_uri must be strings, json an object"
        ) from None
    note = json.dumps(parsed.model_dump(by_alias=True, exclude_none=True), sort_keys=True)
    if len(note) > MAX_METADATA_CHARS:
        raise InvalidInputError(f"metadata is longer than {MAX_METADATA_CHARS} characters")
    return "" if note == "{}" else note
