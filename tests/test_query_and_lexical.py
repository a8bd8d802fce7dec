"""Query syntax and the BM25 index, on inputs small enough to check by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.search.lexical import LexicalIndex, tokenize
from indexer.search.query import parse_query


def test_filters_phrases_and_free_text_are_separated() -> None:
    parsed = parse_query(
        'rollback tag:K8s topic:"Site Reliability" source:wiki "deployctl undo" now'
    )
    assert parsed.text == "rollback now"
    assert parsed.tags == {"k8s"}
    assert parsed.topics == {"site reliability"}
    assert parsed.sources == ("wiki",)
    assert parsed.phrases == ("deployctl undo",)
    assert parsed.search_text == "rollback now deployctl undo"


def test_repeated_filters_widen_and_empty_values_are_ignored() -> None:
    parsed = parse_query("tag:a tag:b topic: tag:")
    assert parsed.tags == {"a", "b"}
    assert parsed.topics == frozenset()
    assert parsed.search_text == ""
    assert parsed.has_filters


def test_matching_applies_every_filter() -> None:
    parsed = parse_query('tag:k8s source:wiki "roll back"')
    assert parsed.matches(
        tags=["K8s"], topic=None, source="https://WIKI.example/x", text="How to Roll Back"
    )
    assert not parsed.matches(tags=["ops"], topic=None, source="wiki", text="roll back")
    assert not parsed.matches(tags=["k8s"], topic=None, source="faq.csv", text="roll back")
    assert not parsed.matches(tags=["k8s"], topic=None, source="wiki", text="rollback")


def test_unbalanced_quotes_do_not_crash() -> None:
    parsed = parse_query('deploy "unterminated tag:"x')
    assert "deploy" in parsed.search_text


DOCS = [
    "Deploying services to Kubernetes with deployctl",
    "Annual leave and holiday policy for employees",
    "Kubernetes pods keep restarting: debugging CrashLoopBackOff",
    "Expense claims are approved by your manager",
]


def test_bm25_ranks_by_term_evidence_and_stems_lightly() -> None:
    index = LexicalIndex.build([10, 11, 12, 13], DOCS)
    scores, ids = index.search("kubernetes deploy", 10)
    assert ids.tolist()[0] == 10
    assert set(ids.tolist()) == {10, 12}
    assert scores[0] > scores[1] > 0
    assert tokenize("Deploying deployed deploys") == ["deploy", "deploy", "deploy"]
    assert "the" not in tokenize("the pods")


def test_bm25_add_remove_and_scores_for_candidates(tmp_path: Path) -> None:
    index = LexicalIndex.build([10, 11, 12, 13], DOCS)
    index.remove([10])
    _, ids = index.search("kubernetes deploy", 10)
    assert 10 not in ids.tolist()
    index.add([20], ["Deploy kubernetes quickly with deployctl"])
    _, ids = index.search("deployctl", 10)
    assert ids.tolist() == [20]
    scores = index.scores_for("kubernetes", [12, 20, 11, 999])
    assert scores[0] > 0 and scores[1] > 0 and scores[2] == 0 and scores[3] == 0
    index.save(tmp_path, version=7)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded is not None
    restored, version = loaded
    assert version == 7
    assert np.array_equal(
        restored.search("kubernetes deploy", 10)[1], index.search("kubernetes deploy", 10)[1]
    )
    assert len(restored) == len(index) == 4


def test_no_shared_terms_means_no_results() -> None:
    index = LexicalIndex.build([1], ["kubernetes"])
    scores, ids = index.search("banana bread", 5)
    assert len(ids) == 0 and len(scores) == 0
