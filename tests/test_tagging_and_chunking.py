"""Derived metadata and chunk shapes, on small corpora where the right answer is plain."""

from __future__ import annotations

from indexer.ingest.chunking import MAX_WORDS, chunk_document
from indexer.ingest.documents import Section, SourceDocument
from indexer.ingest.loaders.slack_export import load_export
from indexer.ingest.tagging import derive
from tests.helpers import SLACK_EXPORT


def doc(title: str, text: str, **meta: object) -> SourceDocument:
    return SourceDocument(
        source=title, source_type="file", title=title, sections=[Section((), text)], **meta
    )  # type: ignore[arg-type]


K8S = "kubernetes pods deploy rollout helm cluster kubectl namespace ingress"
HR = "leave holiday parental vacation manager payroll benefits allowance"


def test_topic_and_difficulty_come_from_the_nearest_labelled_documents() -> None:
    docs = [
        doc("Deploying", K8S, topic="ops", difficulty="advanced", tags=["k8s"]),
        doc("Helm charts", K8S + " charts values", topic="ops", difficulty="advanced"),
        doc("Leave policy", HR, topic="people", difficulty="beginner"),
        doc("Holidays", HR + " calendar", topic="people", difficulty="beginner"),
        doc("Untagged cluster note", "kubectl rollout restart the ingress pods in the cluster"),
        doc("Untagged leave note", "book parental leave and holiday with your manager"),
    ]
    derived = derive(docs)
    assert derived[0].tags == ["k8s"], "explicit tags win"
    assert (derived[4].topic, derived[4].difficulty) == ("ops", "advanced")
    assert (derived[5].topic, derived[5].difficulty) == ("people", "beginner")
    title_and_text = [
        "untagged",
        "cluster",
        "note",
        "kubectl",
        "rollout",
        "restart",
        "ingress",
        "pods",
    ]
    assert derived[4].tags and set(derived[4].tags) <= set(title_and_text)


def test_without_labels_topics_are_clusters_named_by_a_top_term() -> None:
    docs = [doc(f"k{i}", K8S) for i in range(5)] + [doc(f"h{i}", HR) for i in range(5)]
    derived = derive(docs)
    k8s_topics = {d.topic for d in derived[:5]}
    hr_topics = {d.topic for d in derived[5:]}
    assert len(k8s_topics) == 1 and len(hr_topics) == 1
    assert k8s_topics != hr_topics
    assert k8s_topics.pop() in K8S.split()
    assert all(d.difficulty is None for d in derived)


def test_long_sections_split_with_overlap_and_code_fences_stay_whole() -> None:
    words = [f"w{i}" for i in range(500)]
    fence = "```\nline one\n\nline two after a blank line\n```"
    document = SourceDocument(
        source="s",
        source_type="file",
        title="T",
        sections=[Section(("Long",), " ".join(words)), Section(("Code",), fence)],
    )
    chunks = chunk_document(document)
    long_chunks = [c for c in chunks if c.heading_path == ("Long",)]
    assert all(len(c.text.split()) <= MAX_WORDS for c in long_chunks)
    covered = {w for c in long_chunks for w in c.text.split()}
    assert covered == set(words), "nothing is lost between chunks"
    first, second = long_chunks[0].text.split(), long_chunks[1].text.split()
    assert first[-1] in second, "neighbouring chunks overlap"
    (code,) = [c for c in chunks if c.heading_path == ("Code",)]
    assert code.text == fence
    assert code.embedding_text.startswith("T > Code\n\n")
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_a_threads_tags_name_what_it_is_about_not_who_or_how_they_greeted() -> None:
    """The example export's #help-infra thread was tagged "wave, priya, nair, kubectl, hi"."""
    threads = load_export(SLACK_EXPORT).documents
    derived = dict(zip((d.title for d in threads), derive(threads), strict=True))
    (kubectl,) = [tags for title, tags in derived.items() if "kubectl access" in title]
    assert "kubectl" in kubectl.tags
    everyone = {"maria", "santos", "priya", "nair", "ahmed", "karimi", "lena", "vogel", "tom"}
    for title, found in derived.items():
        words = {t.lower() for t in found.tags}
        assert not words & everyone, (title, found.tags)
        assert not words & {"hi", "hello", "thanks", "wave", "tada", "pray"}, (title, found.tags)
