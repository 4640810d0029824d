"""RFC 3161 time-stamps of checkpoints, from the TSA at ``evidence_tsa_url``.

A checkpoint's ``signed_at`` is the monitor's own clock; a token from an outside authority
bounds the time by a clock the monitor does not control. The token's message imprint is the
sha256 of the checkpoint's signed bytes (canonical.checkpoint_bytes), so it time-stamps the
seq, the head hash and the signing time together. Parsing and the CMS signature check are
``rfc3161-client``'s; nothing here is cryptography of our own.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import httpx
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    TimeStampTokenInfo,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from monitor.errors import ConfigError, MonitorError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
MAX_TOKEN_BYTES = 1 << 20  # a token is a few KiB; more is not a TSA's answer
CONTENT_TYPE = "application/timestamp-query"

_DIGESTS = {
    "2.16.840.1.101.3.4.2.1": hashlib.sha256,
    "2.16.840.1.101.3.4.2.2": hashlib.sha384,
    "2.16.840.1.101.3.4.2.3": hashlib.sha512,
}


class TimestampError(MonitorError):
    """The TSA gave no usable token; the checkpoint stands without one."""


def load_tsa_roots(path: Path | None) -> list[x509.Certificate] | None:
    """The CA certificates (PEM) that ``evidence_tsa_certificate`` names; None when unset."""
    if path is None:
        return None
    try:
        roots = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", key="evidence_tsa_certificate") from None
    except ValueError:
        raise ConfigError(
            f"{path} holds no PEM certificate", key="evidence_tsa_certificate"
        ) from None
    return roots


def request_token(url: str, message: bytes, *, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The DER TimeStampResp the TSA at ``url`` gives for ``message``, checked to answer this
    request (status, imprint, nonce) before it is kept."""
    if not url.startswith(("http://", "https://")):
        # Settings refuse it too; this guards callers that pass a URL of their own.
        raise ConfigError(f"{url!r} is not an http(s) URL", key="evidence_tsa_url")
    request = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)  # the token then carries the TSA's certificate
        .build()
    )
    token = _post(url, request.as_bytes(), timeout)
    problem = token_problem(token, message, None, nonce=request.nonce)
    if problem is not None:
        raise TimestampError(f"time-stamping authority {url}: the token {problem}")
    return token


def _post(url: str, body: bytes, timeout: float) -> bytes:
    """The answer's body, read as it comes: past MAX_TOKEN_BYTES, or past ``timeout`` in all
    (httpx's timeout is per read: a TSA trickling a byte a second would hold a checkpoint
    for ever), it is refused without reading the rest."""
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("POST", url, content=body, headers={"Content-Type": CONTENT_TYPE}) as r,
        ):
            if r.status_code != 200:
                raise TimestampError(f"time-stamping authority {url}: HTTP {r.status_code}")
            chunks, size = [], 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > MAX_TOKEN_BYTES:
                    raise TimestampError(
                        f"time-stamping authority {url}: answer past {MAX_TOKEN_BYTES} bytes"
                    )
                if time.monotonic() > deadline:
                    raise TimestampError(
                        f"time-stamping authority {url}: no whole answer in {timeout:g} s"
                    )
                chunks.append(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
        raise TimestampError(f"time-stamping authority {url}: {exc}") from None
    return b"".join(chunks)


def _decode(token: bytes) -> tuple[TimeStampResponse, TimeStampTokenInfo] | None:
    # rfc3161-client parses the token lazily: a malformed TSTInfo raises only when read.
    try:
        tsr = decode_timestamp_response(token)
        return tsr, tsr.tst_info
    except ValueError:
        return None


def token_problem(
    token: bytes,
    message: bytes,
    roots: list[x509.Certificate] | None,
    *,
    nonce: int | None = None,
) -> str | None:
    """Why ``token`` does not time-stamp ``message`` (a phrase after "the token"), or None.

    The imprint is always checked; the TSA's signature and certificate chain only against
    ``roots``: without a trusted CA a valid-looking signature proves nothing."""
    decoded = _decode(token)
    if decoded is None:
        return "is not an RFC 3161 time-stamp response"
    tsr, info = decoded
    if tsr.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        return f"was refused by the TSA (status {tsr.status})"
    imprint = info.message_imprint
    digest = _DIGESTS.get(imprint.hash_algorithm.dotted_string)
    if digest is None:
        return f"uses an unknown hash ({imprint.hash_algorithm.dotted_string})"
    if imprint.message != digest(message).digest():
        return "time-stamps other bytes than the checkpoint's (its message imprint differs)"
    if nonce is not None and info.nonce != nonce:
        return "answers another request (its nonce differs)"
    if roots:
        builder = VerifierBuilder()
        for root in roots:
            builder = builder.add_root_certificate(root)
        try:
            builder.build().verify_message(tsr, message)
        except (VerificationError, ValueError) as exc:
            return f"is not validly signed by a TSA under evidence_tsa_certificate ({exc})"
    return None


def token_time(token: bytes) -> str | None:
    """The TSA's time (genTime, ISO 8601), for the bundle's metadata."""
    decoded = _decode(token)
    return None if decoded is None else decoded[1].gen_time.isoformat()
