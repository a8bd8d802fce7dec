"""Derived tags, measured: the example knowledge base's documents state their tags in front
matter; hide them, derive tags as ingestion does, and count how many of the top five are ones
the author chose (precision@5). Slack threads state no tags, so for them count the derived
tags that are people's names, emoji shortcodes or small talk ("wave, priya, nair, hi").

Side by side in one run: the plain TF-IDF top terms Lepton derived before (English stop words
only, raw text) against `indexer.ingest.tagging.derive`.

    python -m bench.tag_quality
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from bench.report import record
from indexer.ingest.documents import SourceDocument
from indexer.ingest.loaders.files import load_tree
from indexer.ingest.loaders.slack_export import load_export
from indexer.ingest.tagging import CHATTER, TAG_COUNT, TOKEN_PATTERN, derive

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "examples" / "knowledge"
SLACK_EXPORT = ROOT / "examples" / "slack-export"
THREAD = "slack_thread"


def plain_tfidf(documents: Sequence[SourceDocument]) -> list[list[str]]:
    """The previous derivation: top TF-IDF terms of title and raw text."""
    vectorizer = TfidfVectorizer(
        stop_words="english",
        token_pattern=TOKEN_PATTERN,
        max_df=0.5,
        sublinear_tf=True,
    )
    matrix = csr_matrix(
        normalize(vectorizer.fit_transform(f"{d.title}\n{d.text}" for d in documents))
    )
    terms = vectorizer.get_feature_names_out()
    tags = []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        order = np.argsort(-matrix.data[start:end])[:TAG_COUNT]
        tags.append([str(terms[matrix.indices[start:end][j]]) for j in order])
    return tags


def precision_at_5(derived: list[list[str]], stated: list[list[str]]) -> float:
    scores = [
        len({t.lower() for t in tags[:TAG_COUNT]} & {s.lower() for s in truth}) / TAG_COUNT
        for tags, truth in zip(derived, stated, strict=True)
        if truth
    ]
    return float(np.mean(scores))


def noise_share(derived: list[list[str]], noise: set[str]) -> float:
    tags = [t.lower() for ts in derived for t in ts]
    return sum(t in noise for t in tags) / max(1, len(tags))


def main() -> None:
    files = load_tree(KNOWLEDGE).documents
    threads = load_export(SLACK_EXPORT).documents
    stated = [list(d.tags or []) for d in files] + [[] for _ in threads]
    hidden = [replace(d, tags=None) for d in files] + list(threads)
    before = plain_tfidf(hidden)
    after = [d.tags for d in derive(hidden)]
    users = json.loads((SLACK_EXPORT / "users.json").read_text())
    names = {
        part.lower()
        for u in users
        for field in (u.get("real_name"), u.get("name"), (u.get("profile") or {}).get("real_name"))
        for part in re.split(r"[\s._-]+", field or "")
        if part
    }
    emoji = {m.lower() for d in threads for m in re.findall(r":([a-z0-9_+-]+):", d.text)}
    noise = names | emoji | set(CHATTER)
    is_thread = [d.source_type == THREAD for d in hidden]
    thread_before = [t for t, th in zip(before, is_thread, strict=True) if th]
    thread_after = [t for t, th in zip(after, is_thread, strict=True) if th]
    labelled = sum(1 for s in stated if s)
    lines = [
        f"{labelled} documents with front-matter tags (hidden, then derived), {len(threads)} "
        "Slack threads.",
        "",
        "| | before (plain TF-IDF) | after (`tagging.derive`) |",
        "| --- | ---: | ---: |",
        f"| precision@5 against the stated tags | {precision_at_5(before, stated):.3f} | "
        f"{precision_at_5(after, stated):.3f} |",
        "| thread tags that are names, emoji or small talk | "
        f"{noise_share(thread_before, noise):.3f} | {noise_share(thread_after, noise):.3f} |",
        "",
        "Thread tags, before -> after (first five threads):",
        "",
        *(
            f"- {', '.join(b)} -> {', '.join(a)}"
            for b, a in list(zip(thread_before, thread_after, strict=True))[:5]
        ),
    ]
    record("tag_quality", lines)


if __name__ == "__main__":
    main()
