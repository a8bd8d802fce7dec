"""Training modules suggested to one person, for the App Home and its one-click enrol button.

Three signals are blended into one score per module the person does not have yet (any
assignment, open or completed, excludes a module):

    score = 0.6 * interest + 0.4 * colleagues + next_step

- interest, in [0, 1]: the person's own recent searches (last 90 days, up to 50 distinct) and
  the snippets they rated +1 (title, topic, tags), against each module's title, description,
  topic and tags, by cosine similarity of sentence embeddings. Similarities below 0.25 are
  background noise for all-MiniLM-L6-v2 (unrelated sentences land around 0 to 0.2), so the
  scale starts there. A module takes a weighted mean of its best three matches (weights 1, 1/2,
  1/4) rather than a plain average, so one strong interest is not drowned by many unrelated
  ones. It weighs most because it is direct evidence of what the person wants and exists as
  soon as they have searched once.
- colleagues, in [0, 1): user-user collaborative filtering. Each person is a sparse vector over
  snippets they rated (+1/-1) and modules they completed (+1); a module scores the summed cosine
  similarity of the people similar to this one (similarity > 0) who completed it, squashed by
  s / (s + 1) so a crowd cannot swamp everything (one identical colleague gives 0.5, three give
  0.75). It weighs less: it is indirect, and sparse in a small team. Opposite taste (negative
  similarity) never lifts a module.
- next_step: +0.1 when the module has prerequisites and the person completed all of them (the
  natural next step, enough to win near-ties), -0.25 when some prerequisite is not completed,
  more than the interest gap between two modules on the same subject, so the first course comes
  before the follow-up, yet a strongly relevant follow-up is still listed.

Only modules with a positive score are suggested. When none has one (a newcomer, or history
unrelated to the catalogue), the fallback is what colleagues completed most, among modules
whose prerequisites the person has, so the App Home is never empty while the team has done
any training. Scores are rounded before sorting so equal evidence ties exactly, and ties are
broken by title, then key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session, selectinload, sessionmaker

from indexer.embedding import Embedder
from models import Assignment, QueryLog, Rating, Snippet, TrainingModule

INTEREST_WEIGHT = 0.6
COLLEAGUE_WEIGHT = 0.4
NEXT_STEP_BONUS = 0.1
MISSING_PREREQUISITE_PENALTY = 0.25
POPULAR_WEIGHT = 0.1
SIMILARITY_FLOOR = 0.25
TOP_MATCHES = 3
SEARCH_WINDOW = timedelta(days=90)
MAX_SEARCHES = 50
MAX_LIKED_SNIPPETS = 50
SEARCH_PAGE = 200
REASON_TEXT_CHARS = 60
SCORE_DECIMALS = 6
REASON_POPULAR = "Popular with your colleagues"


@dataclass(frozen=True)
class ModuleSuggestion:
    key: str
    title: str
    url: str | None
    minutes: int | None
    score: float
    reason: str


@dataclass(frozen=True)
class _Module:
    """What scoring needs of a catalogue row, detached from the session."""

    id: int
    key: str
    title: str
    url: str | None
    minutes: int | None
    text: str
    prerequisites: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class _Interest:
    text: str
    reason: str


@dataclass(frozen=True)
class _Colleagues:
    """Per module id: summed similarity of similar people who completed it, and how many."""

    similarity: dict[int, float]
    count: dict[int, int]


def recommend_modules(
    sessions: sessionmaker[Session],
    embedder: Embedder,
    user_id: str,
    now: datetime,
    limit: int = 5,
) -> list[ModuleSuggestion]:
    """Up to `limit` modules the person has no assignment for, best first; [] without modules.

    `now` (timezone-aware) bounds the search history that counts as a recent interest.
    """
    if limit <= 0:
        return []
    with sessions() as session:
        modules = _catalogue(session)
        assigned, completed = _own_modules(session, user_id)
        interests = _interests(session, user_id, now)
        colleagues = _colleagues(session, user_id)
        candidates = [m for m in modules if m.id not in assigned]
        if not candidates:
            return []
        suggestions = _blend(embedder, candidates, completed, interests, colleagues)
        if not suggestions:
            suggestions = _popular(session, user_id, candidates, completed)
    return sorted(suggestions, key=lambda s: (-s.score, s.title, s.key))[:limit]


def _catalogue(session: Session) -> list[_Module]:
    rows = session.scalars(
        select(TrainingModule)
        .options(selectinload(TrainingModule.prerequisites))
        .order_by(TrainingModule.id)
    )
    return [
        _Module(
            id=m.id,
            key=m.key,
            title=m.title,
            url=m.url,
            minutes=m.minutes,
            text=_joined(m.title, m.description, m.topic, ", ".join(m.tags or [])),
            prerequisites=tuple(sorted((p.id, p.title) for p in m.prerequisites)),
        )
        for m in rows
    ]


def _joined(*parts: str | None) -> str:
    return ". ".join(p.strip() for p in parts if p and p.strip())


def _own_modules(session: Session, user_id: str) -> tuple[set[int], set[int]]:
    """(every module assigned to the person, the ones they completed)."""
    rows = session.execute(
        select(Assignment.module_id, Assignment.completed_at).where(Assignment.user_id == user_id)
    ).all()
    return {m for m, _ in rows}, {m for m, done in rows if done is not None}


def _interests(session: Session, user_id: str, now: datetime) -> list[_Interest]:
    """Recent distinct searches, newest first, then snippets the person rated +1."""
    out: list[_Interest] = []
    seen: set[str] = set()
    searches = session.scalars(
        select(QueryLog.query)
        .where(QueryLog.user_id == user_id, QueryLog.created_at >= now - SEARCH_WINDOW)
        .order_by(QueryLog.created_at.desc(), QueryLog.id.desc())
        .limit(SEARCH_PAGE)
    )
    for query in searches:
        text = " ".join(query.split())
        if not text or text.casefold() in seen:
            continue
        seen.add(text.casefold())
        out.append(_Interest(text, f"Matches what you searched for: {_short(text)}"))
        if len(out) >= MAX_SEARCHES:
            break
    liked = session.execute(
        select(Snippet.title, Snippet.topic, Snippet.tags)
        .join(Rating, Rating.snippet_id == Snippet.id)
        .where(Rating.user_id == user_id, Rating.value > 0)
        .order_by(Rating.updated_at.desc(), Rating.id.desc())
        .limit(MAX_LIKED_SNIPPETS)
    )
    for title, topic, tags in liked:
        reason = f"Related to “{_short(title)}”, which you found helpful"
        out.append(_Interest(_joined(title, topic, ", ".join(tags or [])), reason))
    return out


def _short(text: str) -> str:
    return text if len(text) <= REASON_TEXT_CHARS else text[: REASON_TEXT_CHARS - 1] + "…"


def _colleagues(session: Session, user_id: str) -> _Colleagues:
    """Similarity-weighted completions of the people whose votes and completions overlap."""
    done = Assignment.completed_at.is_not(None)
    my_snippets = select(Rating.snippet_id).where(Rating.user_id == user_id)
    my_modules = select(Assignment.module_id).where(Assignment.user_id == user_id, done)
    overlapping = union(
        select(Rating.user_id).where(Rating.snippet_id.in_(my_snippets)),
        select(Assignment.user_id).where(Assignment.module_id.in_(my_modules), done),
    ).subquery()
    people = select(overlapping.c.user_id)
    vectors: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
    for person, snippet_id, value in session.execute(
        select(Rating.user_id, Rating.snippet_id, Rating.value).where(Rating.user_id.in_(people))
    ):
        vectors[person][("snippet", snippet_id)] = float(np.sign(value))
    for person, module_id in session.execute(
        select(Assignment.user_id, Assignment.module_id).where(done, Assignment.user_id.in_(people))
    ):
        vectors[person][("module", module_id)] = 1.0
    mine = vectors.pop(user_id, {})
    if not mine or not vectors:
        return _Colleagues({}, {})
    others = sorted(vectors)
    similarity = _cosine_to_first([mine, *(vectors[o] for o in others)])
    summed: dict[int, float] = defaultdict(float)
    count: dict[int, int] = defaultdict(int)
    for other, sim in zip(others, similarity, strict=True):
        if sim <= 0:
            continue
        for kind, item in vectors[other]:
            if kind == "module":
                summed[item] += sim
                count[item] += 1
    return _Colleagues(dict(summed), dict(count))


def _cosine_to_first(rows: list[dict[tuple[str, int], float]]) -> np.ndarray:
    """Cosine similarity of rows[1:] to rows[0], over a sparse person x item matrix."""
    columns: dict[tuple[str, int], int] = {}
    r, c, v = [], [], []
    for i, row in enumerate(rows):
        for item, value in row.items():
            r.append(i)
            c.append(columns.setdefault(item, len(columns)))
            v.append(value)
    matrix = normalize(sparse.csr_matrix((v, (r, c)), shape=(len(rows), len(columns))))
    return np.asarray((matrix[1:] @ matrix[0].T).toarray()).ravel()


def _interest_scores(
    embedder: Embedder, interests: list[_Interest], modules: list[_Module]
) -> tuple[np.ndarray, np.ndarray]:
    """Per module: relevance in [0, 1] from its best matches, and the best interest's index."""
    if not interests:
        return np.zeros(len(modules)), np.zeros(len(modules), dtype=np.int64)
    vectors = embedder.encode([i.text for i in interests] + [m.text for m in modules])
    similarity = vectors[len(interests) :] @ vectors[: len(interests)].T
    relevance = np.clip((similarity - SIMILARITY_FLOOR) / (1 - SIMILARITY_FLOOR), 0.0, 1.0)
    k = min(TOP_MATCHES, len(interests))
    weights = 0.5 ** np.arange(k)
    best = -np.sort(-relevance, axis=1)[:, :k]
    return best @ (weights / weights.sum()), relevance.argmax(axis=1)


def _blend(
    embedder: Embedder,
    modules: list[_Module],
    completed: set[int],
    interests: list[_Interest],
    colleagues: _Colleagues,
) -> list[ModuleSuggestion]:
    interest, best = _interest_scores(embedder, interests, modules)
    out: list[ModuleSuggestion] = []
    for module, relevance, best_index in zip(modules, interest, best, strict=True):
        summed = colleagues.similarity.get(module.id, 0.0)
        by_interest = INTEREST_WEIGHT * float(relevance)
        by_colleagues = COLLEAGUE_WEIGHT * summed / (summed + 1.0)
        missing = [title for pid, title in module.prerequisites if pid not in completed]
        if not module.prerequisites:
            next_step = 0.0
        else:
            next_step = -MISSING_PREREQUISITE_PENALTY if missing else NEXT_STEP_BONUS
        score = round(by_interest + by_colleagues + next_step, SCORE_DECIMALS)
        if score <= 0:
            continue
        if module.prerequisites and not missing:
            titles = _listed([title for _, title in module.prerequisites])
            reason = f"Builds on {titles}, which you completed"
        elif by_colleagues > by_interest:
            n = colleagues.count[module.id]
            reason = f"Completed by {n} colleague{'s' if n != 1 else ''} with similar interests"
        else:
            reason = interests[int(best_index)].reason
        if missing:
            reason += f"; take {_listed(missing)} first"
        out.append(_suggestion(module, score, reason))
    return out


def _popular(
    session: Session, user_id: str, modules: list[_Module], completed: set[int]
) -> list[ModuleSuggestion]:
    """Modules most completed by others, among those the person is ready for."""
    counts = dict(
        session.execute(
            select(Assignment.module_id, func.count(func.distinct(Assignment.user_id)))
            .where(Assignment.completed_at.is_not(None), Assignment.user_id != user_id)
            .group_by(Assignment.module_id)
        ).all()
    )
    out: list[ModuleSuggestion] = []
    for module in modules:
        n = int(counts.get(module.id, 0))
        if n == 0 or any(pid not in completed for pid, _ in module.prerequisites):
            continue
        score = round(POPULAR_WEIGHT * n / (n + 1), SCORE_DECIMALS)
        out.append(_suggestion(module, score, REASON_POPULAR))
    return out


def _listed(titles: list[str]) -> str:
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def _suggestion(module: _Module, score: float, reason: str) -> ModuleSuggestion:
    return ModuleSuggestion(
        key=module.key,
        title=module.title,
        url=module.url,
        minutes=module.minutes,
        score=score,
        reason=reason,
    )
