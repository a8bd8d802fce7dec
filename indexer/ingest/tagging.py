"""Tags, topic and difficulty for documents whose source does not give them.

Everything is learned from the corpus being ingested, in TF-IDF space (scikit-learn):
- tags: the document's highest-weighted terms;
- topic and difficulty: the label of the nearest centroid of the documents that do state one
  (front-matter), so derived labels use the team's own vocabulary; with no labelled documents,
  topics come from k-means clusters named by their top term, and difficulty stays unset.
Explicit metadata always wins: only missing fields are filled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from indexer.ingest.documents import SourceDocument

TAG_COUNT = 5
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z0-9+#.-]*[a-zA-Z0-9+#]\b"
EMOJI = re.compile(r":[a-z0-9_+-]+(?:::[a-z0-9_-]+)?:")
THREAD = "slack_thread"
"""Whose text is one "Name: message" line per post."""
POSTER = re.compile(r"^([^:\n]{1,80}):\s", re.MULTILINE)
MENTION = re.compile(r"@\w+(?:\s[A-Z]\w+)?")
CHATTER = frozenset(
    re.findall(
        r"\w+",
        """hi hello hey hiya thanks thank thx ty cheers welcome please pls sorry lol haha yes
        yeah yep nope ok okay sure cool great awesome nice good just like really actually
        basically maybe probably think know guess need want got getting get gets try trying
        tried thing things stuff lot lots bit today tomorrow yesterday folks everyone anyone
        someone guys asked ask does did doing let says said""",
    )
)
"""Words of Slack small talk and filler: a tag names what a document is about."""


@dataclass(frozen=True)
class Derived:
    tags: list[str]
    topic: str | None
    difficulty: str | None


def _nearest_label(matrix: csr_matrix, labels: Sequence[str | None]) -> list[str | None]:
    known = sorted({label for label in labels if label})
    if not known:
        return [None] * matrix.shape[0]
    centroids = normalize(
        np.vstack(
            [
                np.asarray(matrix[[i for i, lab in enumerate(labels) if lab == k]].mean(axis=0))
                for k in known
            ]
        )
    )
    best = np.asarray(matrix @ centroids.T).argmax(axis=1)
    return [known[int(b)] for b in best]


def _top_terms(matrix: csr_matrix, row: int, terms: np.ndarray) -> list[str]:
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    weights, columns = matrix.data[start:end], matrix.indices[start:end]
    return [str(terms[columns[j]]) for j in np.argsort(-weights)[:TAG_COUNT]]


def _cluster_topics(matrix: csr_matrix, terms: np.ndarray) -> list[str]:
    clusters = min(8, max(1, matrix.shape[0] // 5))
    model = KMeans(n_clusters=clusters, n_init=4, random_state=0).fit(matrix)
    names = [str(terms[int(np.argmax(center))]) for center in model.cluster_centers_]
    return [names[c] for c in model.labels_]


def tag_text(document: SourceDocument) -> str:
    """What tags are drawn from: the title and text without emoji shortcodes, @mentions, the
    names of the people who posted or own it, and Slack small talk."""
    headings = " ".join(h for section in document.sections for h in section.heading_path)
    text = f"{document.title}\n{document.title}\n{headings}\n{document.text}"
    text = EMOJI.sub(" ", MENTION.sub(" ", text))
    names = {n.lower() for n in (document.owner or "").replace("@", " ").split()}
    if document.source_type == THREAD:
        names |= {n.lower() for m in POSTER.finditer(text) for n in m.group(1).split()}
        text = POSTER.sub(" ", text)
    return " ".join(w for w in text.split() if w.lower().strip(".,!?;:()'\"") not in names)


def derive(documents: Sequence[SourceDocument]) -> list[Derived]:
    """Metadata for every document, in order; fields the document already has are kept."""
    if not documents:
        return []
    texts = (tag_text(d) for d in documents)  # one pass; no second corpus copy
    vectorizer = TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | CHATTER),
        token_pattern=TOKEN_PATTERN,
        lowercase=True,
        max_df=0.5 if len(documents) > 4 else 1.0,
        sublinear_tf=True,
    )
    try:
        sparse = vectorizer.fit_transform(texts)
    except ValueError:
        return [Derived(d.tags or [], d.topic, d.difficulty) for d in documents]
    matrix = csr_matrix(normalize(sparse))
    terms = vectorizer.get_feature_names_out()
    if any(d.topic for d in documents):
        topics = _nearest_label(matrix, [d.topic for d in documents])
    else:
        topics = list(_cluster_topics(matrix, terms))
    difficulties = _nearest_label(matrix, [d.difficulty for d in documents])
    return [
        Derived(
            tags=doc.tags or _top_terms(matrix, i, terms),
            topic=doc.topic or topics[i],
            difficulty=doc.difficulty or difficulties[i],
        )
        for i, doc in enumerate(documents)
    ]
