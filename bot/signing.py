"""Slack's request signature (v0, HMAC-SHA256 over `v0:timestamp:body`), computed over the raw
bytes: the server checks it with this, and the simulated workspace signs with it, so both
agree with Slack byte for byte."""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_AGE_SECONDS = 5 * 60


def signature(signing_secret: str, timestamp: str, body: str | bytes) -> str:
    """Slack signs the raw bytes of the body, whatever they are."""
    raw = body.encode() if isinstance(body, str) else body
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def fresh(timestamp: str | None, given: str | None) -> bool:
    """A signature is present and its timestamp within 5 minutes: checked before the body is
    read, so an unsigned or replayed-late request costs nothing."""
    if not timestamp or not given or not timestamp.isdigit():
        return False
    return abs(time.time() - int(timestamp)) <= MAX_AGE_SECONDS


def signed(secret: str, body: bytes, timestamp: str | None, given: str | None) -> bool:
    """A valid signature and a timestamp within 5 minutes (slack_sdk's verifier decodes the
    body as UTF-8 first and fails on anything else)."""
    if not fresh(timestamp, given):
        return False
    assert timestamp is not None
    return hmac.compare_digest(signature(secret, timestamp, body), given or "")
