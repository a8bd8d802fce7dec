"""Questions that only name a document ("tensorflow 2.0", "expenses", "sick leave") are answered
by its opening, not by whichever short section repeats the title's words most ("Getting help").

A question names a document when it is a few words, not a sentence, and is about as close in
meaning to the document's title as to the section that matched it. Titles are embedded when
first needed and cached; only such short questions ask.
"""

from __future__ import annotations

import numpy as np

from indexer.embedding import Embedder
from indexer.memo import Memo

NAME_WORDS = 3
"""At most this many words, and no question mark: a name, not a question ("where do runbooks
live" is a question, though only two of its words are not stop words)."""
TITLE_MARGIN = 0.03
"""How much closer the matched section may be than the title, and the question still name the
document. On bench.answer_quality's labelled questions this moved one of 129 ("where do runbooks
live") when questions of up to three meaningful words counted; counted by words as written, none."""
CACHE_TITLES = 4096


def names_a_document(search_text: str) -> bool:
    words = search_text.split()
    return 0 < len(words) <= NAME_WORDS and "?" not in search_text


class TitleMatcher:
    def __init__(self, embedder: Embedder, cache_titles: int = CACHE_TITLES) -> None:
        self.embedder = embedder
        self._titles: Memo[str, np.ndarray] = Memo(cache_titles)

    def named(self, title: str, query: np.ndarray, matched: float) -> bool:
        """Whether the question is as close to `title` as to the section it matched (`matched`,
        its cosine to that section)."""
        vector = self._titles.get(title, lambda: self.embedder.encode([title])[0])
        return float(vector @ np.ravel(query)) >= matched - TITLE_MARGIN
