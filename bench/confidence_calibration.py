"""Where "no good answer" starts: the best match's cosine for questions the example knowledge
base answers and for questions it cannot, and the threshold that separates them best.

    python -m bench.confidence_calibration
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.report import record, scratch_knowledge
from indexer.embedding import Embedder
from indexer.ingest.loaders.files import load_tree
from indexer.ingest.pipeline import Ingestor
from indexer.learning.feedback import Feedback
from indexer.search.ranker import MIN_CONFIDENCE, Ranker

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "knowledge"
ANSWERABLE = [
    "tensorflow 2.0",
    "how do I deploy to k8s?",
    "how do I roll back a deploy",
    "who is on call this week and how do I page them",
    "how many days of annual leave do I get",
    "how do I claim expenses",
    "what is the learning budget",
    "how do I get kubectl access",
    "how do I write a postmortem",
    "how do I set up 2FA",
    "python style guide line length",
    "how do feature flags work here",
    "how do I run a database migration",
    "what happens in my first week",
    "how are performance reviews calibrated",
    "how do I report a security incident",
    "how do I restore a database backup",
    "what dashboards standards should I follow",
    "how do I train a model on the GPU cluster",
    "how does the promotion process work",
    "can I work remotely from another country",
    "how do I connect to the office wifi",
    "which public holidays do we have",
    "how do I track analytics events",
    "what should a code review check",
]
UNANSWERABLE = [
    "best banana bread recipe",
    "who won the 1998 world cup",
    "how tall is mount everest",
    "translate hello into japanese",
    "what is the capital of australia",
    "how do I knit a scarf",
    "recommend a good sci-fi novel",
    "what is the boiling point of lead",
    "how do I change a bicycle tyre",
    "when do swallows migrate",
    "how to grow tomatoes indoors",
    "what time is sunset in lisbon",
    "lyrics of a famous opera aria",
    "how many moons does jupiter have",
    "how do I train my puppy to sit",
    "what is the rule of offside in football",
    "cheapest flights to iceland",
    "how to make sourdough starter",
    "who painted the mona lisa",
    "how do volcanoes form",
]


def main() -> None:
    embedder = Embedder.load()
    with scratch_knowledge(embedder) as knowledge:
        Ingestor(knowledge).ingest(load_tree(EXAMPLES))
        ranker = Ranker(knowledge, Feedback(knowledge.sessions))
        good = np.array([ranker.rank(q).results[0].dense for q in ANSWERABLE])
        bad = np.array([ranker.rank(q).results[0].dense for q in UNANSWERABLE])
    thresholds = np.round(np.arange(0.20, 0.70, 0.01), 2)
    accuracy = [((good >= t).sum() + (bad < t).sum()) / (len(good) + len(bad)) for t in thresholds]
    best = float(thresholds[int(np.argmax(accuracy))])
    shipped = ((good >= MIN_CONFIDENCE).sum() + (bad < MIN_CONFIDENCE).sum()) / (
        len(good) + len(bad)
    )
    record(
        "confidence_calibration",
        [
            "| questions | n | min | median | max |",
            "| --- | ---: | ---: | ---: | ---: |",
            f"| answerable | {len(good)} | {good.min():.3f} | {np.median(good):.3f} "
            f"| {good.max():.3f} |",
            f"| not answerable | {len(bad)} | {bad.min():.3f} | {np.median(bad):.3f} "
            f"| {bad.max():.3f} |",
            "",
            f"Best separating threshold: {best:.2f} (accuracy {max(accuracy):.3f}); shipped "
            f"MIN_CONFIDENCE {MIN_CONFIDENCE} classifies {shipped:.3f} correctly.",
        ],
    )


if __name__ == "__main__":
    main()
