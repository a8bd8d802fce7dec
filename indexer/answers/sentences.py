"""The sentences of a snippet an answer may quote, and their stored vectors.

A sentence is embedded with its headings in front ("Promotion process > Pay: Promotions come
with ..."), since on its own "It is 10% of base" says nothing of what it answers. Vectors are
made at ingest and stored as float16 (half the bytes, cosine unchanged to three decimals), so
composing an answer reads a few rows instead of running the model on the results' sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.answers.passages import Unit, units
from indexer.ingest.tagging import CHATTER, MENTION
from models import SnippetSentences

THREAD = "slack_thread"
MAX_SENTENCES = 48
"""A snippet's sentences beyond this (a very long table) are shown but never quoted."""
STORED = np.dtype("<f2")
EMOJI = re.compile(r":[a-z0-9_+-]+:")


@dataclass(frozen=True)
class Spot:
    """One quotable sentence: the unit it sits in (by index into the snippet's units)."""

    unit: int
    sentence: str


@dataclass(frozen=True)
class Quotable:
    units: list[Unit]
    spots: list[Spot]


def quotable(text: str, source_type: str) -> Quotable:
    """The snippet's units and, in reading order, the sentences that may be quoted: never the
    question that opened a thread or an FAQ entry, nor the asker's own later posts in a thread
    ("approved and working, thanks!"), nor small talk ("Welcome @Priya!"), nor a line that only
    introduces what follows ("Once it's approved:")."""
    found = units(text, thread=source_type == THREAD)
    asker = next((u.author for u in found if u.asked and u.author), None)
    spots = [
        Spot(n, sentence)
        for n, unit in enumerate(found)
        if not unit.asked and (asker is None or unit.author != asker)
        for sentence in unit.sentences
        if not sentence.endswith(":") and not small_talk(sentence)
    ][:MAX_SENTENCES]
    return Quotable(found, spots)


def small_talk(sentence: str) -> bool:
    """Only greetings, thanks, filler and mentions: nothing that could answer a question."""
    words = re.findall(r"[a-z']+", MENTION.sub(" ", EMOJI.sub(" ", sentence)).lower())
    return all(w in CHATTER or w in ENGLISH_STOP_WORDS for w in words)


def sentence_inputs(title: str, section: str | None, spots: Sequence[Spot]) -> list[str]:
    """What the model embeds for each spot: the title and heading path, then the sentence
    (on the labelled questions of bench.answer_quality, the labelled sentence was quoted for
    0.535 of them with no context, 0.543 with the innermost heading, 0.589 with the path)."""
    context = f"{title} > {section}" if section else title
    return [f"{context}: {spot.sentence}" for spot in spots]


def to_row(snippet_id: int, vectors: np.ndarray, model: str) -> SnippetSentences:
    return SnippetSentences(
        snippet_id=snippet_id,
        model=model,
        count=len(vectors),
        vectors=np.asarray(vectors, dtype=STORED).tobytes(),
    )


def load(
    session: Session, snippet_ids: Iterable[int], model: str, dim: int
) -> dict[int, np.ndarray]:
    """Stored sentence vectors (float32 rows) of these snippets made by `model`; a snippet
    without them is absent."""
    ids = list(snippet_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(SnippetSentences.snippet_id, SnippetSentences.count, SnippetSentences.vectors).where(
            SnippetSentences.snippet_id.in_(ids), SnippetSentences.model == model
        )
    )
    return {
        snippet_id: np.frombuffer(blob, dtype=STORED).astype(np.float32).reshape(count, dim)
        for snippet_id, count, blob in rows
    }
