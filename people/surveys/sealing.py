"""An open round's answers, sealed. While a round is open the database holds each person's
answers only encrypted (AES-GCM), under a key derived from a secret every process shares and the
database never holds, and padded to one size for everyone: whoever reads the database or its
raw files while people answer sees that somebody's sealed row changed, never what it says nor
how long their comment is. The plain answers are written once, when the round closes (see
`people.surveys.answers`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_SIZE = 10 * 1024
"""Every sealed row's plaintext is padded to this (a 2,000-character comment of 4-byte
characters plus ten answers and a channel fit), so its length tells nothing."""
NONCE_BYTES = 12
LENGTH_BYTES = 4
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Unreadable(ValueError):
    """A sealed row that does not open under this secret (it changed while the round was
    open) or was altered."""


@dataclass(frozen=True)
class Draft:
    """What one person has answered so far in an open round."""

    answers: dict[str, int] = field(default_factory=dict)
    comment: str | None = None
    segment: str | None = None

    @property
    def empty(self) -> bool:
        return not self.answers and not self.comment


def clean_comment(text: str, limit: int) -> str | None:
    """The comment as stored: control characters (which JSON would escape to six bytes each)
    dropped, so no comment within `limit` outgrows the sealed size."""
    return CONTROL.sub("", text).strip()[:limit] or None


class Seal:
    def __init__(self, secret: bytes) -> None:
        key = hmac.new(secret, b"lepton-survey-seal-v1", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def close(self, round_id: int, respondent_key: str, draft: Draft) -> bytes:
        plain = json.dumps(
            {"a": draft.answers, "c": draft.comment, "s": draft.segment},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        framed = len(plain).to_bytes(LENGTH_BYTES, "big") + plain
        padded = framed + bytes(-len(framed) % SEALED_SIZE)
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, padded, _bound(round_id, respondent_key))

    def open(self, round_id: int, respondent_key: str, sealed: bytes) -> Draft:
        nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            padded = self._aead.decrypt(nonce, body, _bound(round_id, respondent_key))
        except InvalidTag:
            raise Unreadable(f"a sealed answer of round {round_id} does not open") from None
        length = int.from_bytes(padded[:LENGTH_BYTES], "big")
        data = json.loads(padded[LENGTH_BYTES : LENGTH_BYTES + length])
        return Draft(
            answers={str(k): int(v) for k, v in data["a"].items()},
            comment=data["c"],
            segment=data["s"],
        )


def _bound(round_id: int, respondent_key: str) -> bytes:
    """Associated data: a sealed row only opens as the row of its own round and key, so rows
    swapped or copied between rounds in the database are refused rather than counted."""
    return f"{round_id}:{respondent_key}".encode()
