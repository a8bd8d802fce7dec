"""Does `/lepton find` show the document, and the section of it, that answers a real question?

Labelled questions (bench/data/northwind_questions.yml) were written from the example knowledge
base itself, each pointing at the document, the section and a sentence that answers it. This
runs Lepton's real pipeline on them: the packaged embedding model, ingestion of
examples/knowledge and examples/slack-export into a throwaway SQLite database and index, and the
workspace ranker every surface asks. For each question it scores the top 5 results:

- document level: a result is relevant when its document is the labelled source;
- section level: relevant when it is also the labelled section (its heading path ends with the
  labelled heading; a label without a section accepts any part of the document).

Each question has one relevant document and one relevant section, so nDCG@5 credits a result
list once, at its first relevant result: 1/log2(rank + 1). Figures are split by whether the
question is a paraphrase (shares almost no words with the document).

`evaluate` takes any search function, so the same questions can score another ranking, and
optionally the sentences an answer quotes (`answer_from_right_section`).

    python -m bench.answer_quality            # run, print and record to bench/results
    python -m bench.answer_quality --check    # only check the labels against the documents
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bench.report import record
from indexer.answers.sentences import quotable
from indexer.search.ranker import Ranking

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = Path(__file__).resolve().parent / "data" / "northwind_questions.yml"
KNOWLEDGE = ROOT / "examples" / "knowledge"
SLACK_EXPORT = ROOT / "examples" / "slack-export"
SLACK_PREFIX = "slack-export:"
K = 5
MAX_PER_DOCUMENT = 3
SHOWN = 3
"""Results an answer shows (handlers.knowledge.answering.SOURCES); quotes come from these."""
ASKER = "UBENCH0001"
"""A colleague with no ratings: collaborative filtering has nothing to say, as for a newcomer."""


@dataclass(frozen=True)
class Hit:
    """One search result as the benchmark sees it: where it is from and the text shown."""

    source: str
    section: str | None
    text: str = ""


@dataclass(frozen=True)
class Quote:
    """A sentence an answer quotes, with the document and section it was taken from."""

    source: str
    section: str | None
    text: str


@dataclass(frozen=True)
class Question:
    question: str
    source: str
    section: str | None
    answer: str
    paraphrase: bool
    under_title: bool = False
    """The answer is in the text under the document's own title (Lepton gives it no section)."""


Search = Callable[[str], Sequence[Hit]]
Quotes = Callable[[str], Sequence[Quote]]


class LabelError(Exception):
    """The labels disagree with the documents; the message lists every problem."""


# --- reading the documents, independently of Lepton's loaders ------------------------------------


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_SLACK_LINK = re.compile(r"<([^<>|\s]+)\|([^<>]+)>")
_EMPHASIS = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])")
_TAG = re.compile(r"<\s*/?\s*([a-zA-Z0-9]*)[^>]*>")
_INLINE_TAGS = frozenset({"a", "b", "code", "em", "i", "span", "strong"})


def normalise(text: str, *, is_html: bool = False) -> str:
    """The comparison form of answers, sections and headings: markup dropped, whitespace
    collapsed (the rules are spelled out in the questions file's header)."""
    if is_html:
        text = html.unescape(
            _TAG.sub(lambda m: "" if m.group(1).lower() in _INLINE_TAGS else " ", text)
        )
    text = _MD_LINK.sub(r"\1", text)
    text = _SLACK_LINK.sub(r"\2", text)
    text = text.replace("`", "").replace("**", "").replace("__", "")
    text = _EMPHASIS.sub(r"\1", text)
    return " ".join(text.split())


def heading_key(heading: str) -> str:
    return normalise(heading).casefold()


@dataclass(frozen=True)
class DocSection:
    path: tuple[str, ...]
    """Every heading above the text, the document's title included."""
    text: str


@dataclass(frozen=True)
class SourceText:
    sections: list[DocSection]
    title: str | None
    """The heading that names the whole document (Markdown/HTML H1, reStructuredText title)."""
    is_html: bool = False


def _markdown(text: str) -> SourceText:
    if text.startswith("---\n"):
        text = text.split("\n---\n", 1)[1]
    sections: list[DocSection] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False
    title = None

    def flush() -> None:
        sections.append(DocSection(tuple(h for _, h in stack), "\n".join(lines)))
        lines.clear()

    for line in text.split("\n"):
        if re.match(r" {0,3}(```|~~~)", line):
            fenced = not fenced
        heading = None if fenced else re.fullmatch(r" {0,3}(#{1,6})\s+(.*?)\s*#*\s*", line)
        if heading is None:
            lines.append(line)
            continue
        flush()
        level = len(heading.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading.group(2)))
        if level == 1 and title is None:
            title = heading.group(2)
    flush()
    return SourceText(sections, title)


def _rst(text: str) -> SourceText:
    lines = text.split("\n")
    styles: list[str] = []
    stack: list[tuple[int, str]] = []
    sections: list[DocSection] = []
    body: list[str] = []
    title = None
    i = 0
    while i < len(lines):
        line, nxt = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
        underline = re.fullmatch(r"([=\-~^\"'`#*+])\1+\s*", nxt)
        if line.strip() and not line[0].isspace() and underline and len(nxt) >= len(line):
            sections.append(DocSection(tuple(h for _, h in stack), "\n".join(body)))
            body = []
            style = underline.group(1)
            if style not in styles:
                styles.append(style)
            level = styles.index(style)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, line.strip()))
            title = title or line.strip()
            i += 2
            continue
        body.append(line)
        i += 1
    sections.append(DocSection(tuple(h for _, h in stack), "\n".join(body)))
    return SourceText(sections, title)


def _html(text: str) -> SourceText:
    text = re.sub(r"(?is)<(head|script|style)\b.*?</\1>", " ", text)
    parts = re.split(r"(?is)<h([1-6])\b[^>]*>(.*?)</h\1>", text)
    sections = [DocSection((), parts[0])]
    stack: list[tuple[int, str]] = []
    title = None
    for n in range(1, len(parts), 3):
        level, heading = int(parts[n]), normalise(parts[n + 1], is_html=True)
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
        title = title or (heading if level == 1 else None)
        sections.append(DocSection(tuple(h for _, h in stack), parts[n + 2]))
    return SourceText(sections, title, is_html=True)


def read_source(path: Path) -> SourceText:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".md":
        return _markdown(text)
    if suffix == ".rst":
        return _rst(text)
    if suffix in (".html", ".htm"):
        return _html(text)
    return SourceText([DocSection((), text)], None)


def faq_key(question: str) -> str:
    """The row key Lepton puts after '#' in an FAQ pair's source: the question as a slug."""
    slug = re.sub(r"[^\w]+", "-", question.lower()).strip("-_")[:80].rstrip("-_")
    return slug or "question"


def faq_rows(path: Path) -> dict[str, str]:
    """Row key -> answer."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data.get("faq", []) if isinstance(data, dict) else data
    else:
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    return {faq_key(str(r["question"])): str(r["answer"]) for r in rows}


def slack_threads(root: Path = SLACK_EXPORT) -> dict[str, list[str]]:
    """Thread id (as Lepton names a thread's document) -> the texts of its replies."""
    channels = json.loads((root / "channels.json").read_text(encoding="utf-8"))
    threads: dict[str, list[str]] = {}
    for channel in channels:
        for day in sorted((root / channel["name"]).glob("*.json")):
            for message in json.loads(day.read_text(encoding="utf-8")):
                parent = message.get("thread_ts")
                if message.get("subtype") or not parent:
                    continue
                key = f"{SLACK_PREFIX}{root.name}/{channel['id']}/{parent}"
                replies = threads.setdefault(key, [])
                if message["ts"] != parent:
                    replies.append(str(message.get("text") or ""))
    return threads


# --- the labels ----------------------------------------------------------------------------------


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The labelled questions, each checked against its document; raises LabelError listing
    every label whose source, section or answer cannot be found."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems: list[str] = []
    questions: list[Question] = []
    threads = slack_threads()
    for n, entry in enumerate(raw or [], start=1):
        where = f"#{n} {entry.get('question')!r}"
        try:
            question = _checked(entry, threads)
        except LabelError as exc:
            problems.append(f"{where}: {exc}")
            continue
        questions.append(question)
    seen = Counter(q.question.casefold() for q in questions)
    problems += [f"question asked twice: {q!r}" for q, c in seen.items() if c > 1]
    per_document = Counter(q.source.split("#")[0] for q in questions if "#" in q.source)
    per_document.update(q.source for q in questions if "#" not in q.source)
    problems += [
        f"{source}: {count} questions, at most {MAX_PER_DOCUMENT} per document"
        for source, count in per_document.items()
        if count > MAX_PER_DOCUMENT
    ]
    if problems:
        raise LabelError(f"{len(problems)} problem(s) in {path}:\n  " + "\n  ".join(problems))
    return questions


def _checked(entry: dict[str, Any], threads: dict[str, list[str]]) -> Question:
    for key, kind in (("question", str), ("source", str), ("answer", str), ("paraphrase", bool)):
        if not isinstance(entry.get(key), kind):
            raise LabelError(f"{key} must be a {kind.__name__}")
    section = entry.get("section")
    if section is not None and not isinstance(section, str):
        raise LabelError("section must be a string or null")
    source, answer = entry["source"], normalise(entry["answer"])
    under_title = False
    if source.startswith(SLACK_PREFIX):
        if source not in threads:
            raise LabelError(f"no Slack thread {source} in {SLACK_EXPORT}")
        if section is not None:
            raise LabelError("a Slack thread has no sections: section must be null")
        if not any(answer in normalise(reply) for reply in threads[source]):
            raise LabelError("answer is not in the thread's replies")
    elif "#" in source:
        file, _, key = source.partition("#")
        rows = faq_rows(_existing(file))
        if key not in rows:
            raise LabelError(f"{file} has no row {key!r}; keys: {sorted(rows)}")
        if section is not None:
            raise LabelError("an FAQ row has no sections: section must be null")
        if answer not in normalise(rows[key]):
            raise LabelError("answer is not in the row's answer")
    else:
        document = read_source(_existing(source))
        under_title = _check_section(document, section, answer)
    return Question(
        entry["question"], source, section, entry["answer"], entry["paraphrase"], under_title
    )


def _existing(relative: str) -> Path:
    path = KNOWLEDGE / relative
    if not path.is_file():
        raise LabelError(f"no file {path}")
    return path


def _check_section(document: SourceText, section: str | None, answer: str) -> bool:
    """Whether the answer is under the document's title; raises unless the labelled section
    exists and holds the answer."""
    if section is None:
        if any(s.path for s in document.sections):
            raise LabelError("the document has headings: name the answer's section")
        candidates = document.sections
    else:
        wanted = [heading_key(h) for h in section.split(" > ")]
        candidates = [
            s
            for s in document.sections
            if [heading_key(h) for h in s.path[-len(wanted) :]] == wanted
        ]
        if not candidates:
            raise LabelError(f"no section headed {section!r}")
        headings = {tuple(heading_key(h) for h in s.path) for s in candidates if s.text.strip()}
        if len(headings) > 1:
            raise LabelError(f"{section!r} heads several sections: write it as a path")
    holding = [s for s in candidates if answer in normalise(s.text, is_html=document.is_html)]
    if not holding:
        raise LabelError(f"answer is not in section {section!r}")
    title = heading_key(document.title) if document.title else None
    return any(len(s.path) == 1 and heading_key(s.path[0]) == title for s in holding)


# --- scoring -------------------------------------------------------------------------------------


def section_matches(question: Question, source: str, section: str | None) -> bool:
    """Same document, and a heading path that ends with the labelled heading (or path). Lepton
    leaves a document's own title out of heading paths, so the text under the title has none."""
    if source != question.source:
        return False
    if question.section is None:
        return True
    if section is None:
        return question.under_title
    wanted = [heading_key(h) for h in question.section.split(" > ")]
    have = [heading_key(h) for h in section.split(" > ")]
    return have[-len(wanted) :] == wanted


def first_rank(relevant: Iterator[bool]) -> int | None:
    return next((rank for rank, ok in enumerate(relevant, start=1) if ok), None)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def evaluate(
    search: Search,
    questions: Sequence[Question] | None = None,
    quotes: Quotes | None = None,
    k: int = K,
) -> dict[str, Any]:
    """Scores `search` on the labelled questions: per question the rank (1-based, None when
    not in the top k) of the right document and of the right section; per group ("all",
    "paraphrase", "literal") nDCG@k, hit@1 and hit@k at both levels. With `quotes` (the
    sentences an answer quotes for a question), also `answer_from_right_section`: the share of
    questions where a quoted sentence comes from the labelled document and section, and
    `labelled_answer_quoted`: where one is the labelled answer sentence itself."""
    questions = list(questions if questions is not None else load_questions())
    rows: list[dict[str, Any]] = []
    for q in questions:
        hits = list(search(q.question))[:k]
        row: dict[str, Any] = {
            "question": q.question,
            "source": q.source,
            "section": q.section,
            "paraphrase": q.paraphrase,
            "doc_rank": first_rank(h.source == q.source for h in hits),
            "section_rank": first_rank(section_matches(q, h.source, h.section) for h in hits),
            "shown": [(h.source, h.section) for h in hits],
        }
        if quotes is not None:
            quoted = quotes(q.question)
            row["answer_from_right_section"] = any(
                section_matches(q, s.source, s.section) for s in quoted
            )
            row["labelled_answer_quoted"] = any(
                s.source == q.source and same_sentence(s.text, q.answer) for s in quoted
            )
            row["quoted"] = [s.text for s in quoted]
        rows.append(row)

    def summary(group: list[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {"n": len(group)}
        for level in ("doc", "section"):
            ranks = [r[f"{level}_rank"] for r in group]
            out[f"{level}_ndcg"] = _mean([1 / math.log2(r + 1) if r else 0.0 for r in ranks])
            out[f"{level}_hit1"] = _mean([1.0 if r == 1 else 0.0 for r in ranks])
            out[f"{level}_hit{k}"] = _mean([1.0 if r else 0.0 for r in ranks])
        if quotes is not None:
            for key in ("answer_from_right_section", "labelled_answer_quoted"):
                out[key] = _mean([1.0 if r[key] else 0.0 for r in group])
            out["quoted_something"] = _mean([1.0 if r["quoted"] else 0.0 for r in group])
        return out

    groups = {
        "all": rows,
        "paraphrase": [r for r in rows if r["paraphrase"]],
        "literal": [r for r in rows if not r["paraphrase"]],
    }
    return {"k": k, "groups": {name: summary(g) for name, g in groups.items()}, "questions": rows}


def same_sentence(quoted: str, answer: str) -> bool:
    """A quote is the labelled answer when, after normalising both, one contains the other or
    the quote has at least 60% of the answer's words (a table row is quoted as "Header: cell")."""
    a, b = normalise(quoted).casefold(), normalise(answer).casefold()
    if a in b or b in a:
        return True
    words = set(re.findall(r"\w+", b))
    return bool(words) and len(words & set(re.findall(r"\w+", a))) >= 0.6 * len(words)


# --- Lepton's pipeline ---------------------------------------------------------------------------


def label_of(source: str) -> str:
    """A Lepton document source in the labels' form: files relative to examples/knowledge."""
    if source.startswith(SLACK_PREFIX):
        return source
    path, hash_, fragment = source.partition("#")
    try:
        relative = Path(path).resolve().relative_to(KNOWLEDGE.resolve()).as_posix()
    except ValueError:
        return source
    return relative + hash_ + fragment


@dataclass
class LeptonRun:
    search: Search
    sources: set[str]
    ingest_seconds: float
    snippets: int
    weak: list[str]
    """Questions where Lepton found nothing strong (and so showed at most three results)."""
    quotes: Quotes
    """The sentences the answer line quotes (`indexer.answers.compose`) from the three results
    an answer shows."""
    first_sentence: Quotes
    """What a person read first before the answer line: the top result's opening sentence."""
    compose_ms: list[float]


@contextmanager
def lepton(tmp: Path) -> Iterator[LeptonRun]:
    """A console-style Lepton (no Slack credentials) over a fresh database in `tmp`, with the
    example knowledge base ingested as `lepton start` does; its search is `/lepton find`'s."""
    from sqlalchemy import select

    from bot import migrate
    from bot.services import Services
    from bot.settings import load_settings
    from indexer.ingest.loaders.files import load_tree
    from indexer.ingest.loaders.slack_export import load_export
    from models import Document, create_db_engine

    url = f"sqlite:///{tmp / 'lepton.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    settings = load_settings(
        None,
        database_url=url,
        lepton_data_dir=tmp,
        slack_bot_token=None,
        slack_signing_secret=None,
        slack_app_token=None,
        slack_client_id=None,
        slack_client_secret=None,
        lepton_workspace=None,
    )
    services = Services(settings, engine)
    try:
        home = services.home
        services.embedder.encode(["load the model before timing ingestion"])
        started = time.perf_counter()
        loaded = load_tree(KNOWLEDGE)
        loaded.extend(load_export(SLACK_EXPORT))
        summary = home.ingestor.ingest(loaded)
        ingest_seconds = time.perf_counter() - started
        if summary.skipped:
            print("ingest skipped:", *summary.lines(), sep="\n  ", file=sys.stderr)
        with home.sessions() as session:
            sources = {label_of(s) for s in session.scalars(select(Document.source))}
        ranker = home.ranker
        weak: list[str] = []
        rankings: dict[str, Ranking] = {}
        compose_ms: list[float] = []

        def search(question: str) -> list[Hit]:
            ranking = ranker.rank(question, asker=ASKER, limit=K)
            rankings[question] = ranking
            if not ranking.confident:
                weak.append(question)
            return [Hit(label_of(r.source), r.section, r.text) for r in ranking.results]

        def quotes(question: str) -> list[Quote]:
            ranking = rankings[question]
            shown = replace(ranking, results=ranking.results[:SHOWN])
            started = time.perf_counter()
            composed = home.answers.compose(shown)
            compose_ms.append((time.perf_counter() - started) * 1000)
            by_id = {r.snippet_id: r for r in shown.results}
            return [
                Quote(label_of(by_id[q.snippet_id].source), by_id[q.snippet_id].section, q.text)
                for q in composed.quotes
            ]

        def first_sentence(question: str) -> list[Quote]:
            top = rankings[question].results[:1]
            return [
                Quote(label_of(r.source), r.section, spots[0].sentence)
                for r in top
                if (spots := quotable(r.text, r.source_type).spots)
            ]

        yield LeptonRun(
            search,
            sources,
            ingest_seconds,
            len(home.knowledge.index),
            weak,
            quotes,
            first_sentence,
            compose_ms,
        )
    finally:
        services.stopping.set()
        engine.dispose()


# --- the command ---------------------------------------------------------------------------------


def _table(groups: dict[str, dict[str, float]], k: int) -> list[str]:
    lines = [
        f"| questions | n | doc nDCG@{k} | doc hit@1 | doc hit@{k} "
        f"| section nDCG@{k} | section hit@1 | section hit@{k} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, g in groups.items():
        lines.append(
            f"| {name} | {g['n']:.0f} | {g['doc_ndcg']:.3f} | {g['doc_hit1']:.3f} "
            f"| {g[f'doc_hit{k}']:.3f} | {g['section_ndcg']:.3f} | {g['section_hit1']:.3f} "
            f"| {g[f'section_hit{k}']:.3f} |"
        )
    return lines


def _misses(rows: list[dict[str, Any]]) -> list[str]:
    """Questions whose right section is not in the top k, with what was shown instead."""
    lines = []
    for r in rows:
        if r["section_rank"]:
            continue
        same_doc = [sec for src, sec in r["shown"] if src == r["source"]]
        if same_doc:
            got = f"document at {r['doc_rank']}, but section {same_doc[0]!r}"
        else:
            top = r["shown"][0] if r["shown"] else ("nothing", None)
            got = f"document not shown; top: {top[0]} ({top[1]!r})"
        lines.append(
            f"- {r['question']!r} -> {r['source']} / {r['section']!r}: {got}"
            + (" [paraphrase]" if r["paraphrase"] else "")
        )
    return lines


def _pct(values: list[float], pct: int) -> float:
    return values[min(len(values) - 1, int(len(values) * pct / 100))] if values else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="only check the labels against the documents"
    )
    args = parser.parse_args()
    try:
        questions = load_questions()
    except LabelError as exc:
        raise SystemExit(str(exc)) from None
    paraphrases = sum(q.paraphrase for q in questions)
    threads = sum(q.source.startswith(SLACK_PREFIX) for q in questions)
    counts = (
        f"{len(questions)} questions over {len({q.source for q in questions})} documents "
        f"({paraphrases} paraphrases, {threads} answered by Slack threads)"
    )
    if args.check:
        print(f"labels OK: {counts}")
        return

    with tempfile.TemporaryDirectory() as tmp, lepton(Path(tmp)) as run:
        missing = sorted({q.source for q in questions} - run.sources)
        if missing:
            raise SystemExit("labelled sources Lepton did not ingest:\n  " + "\n  ".join(missing))
        started = time.perf_counter()
        before = evaluate(run.search, questions, run.first_sentence)
        query_ms = (time.perf_counter() - started) / len(questions) * 1000
        result = evaluate(run.search, questions, run.quotes)
        cold = sorted(run.compose_ms)
    k = result["k"]
    lines = [
        f"{counts}; Lepton ingested {len(run.sources)} documents into {run.snippets} snippets "
        f"in {run.ingest_seconds:.1f} s; {query_ms:.0f} ms per question; top {k} results of "
        f"the workspace ranker (`/lepton find`), asked by someone with no ratings.",
        f"{len(run.weak)} question(s) had no confident match (Lepton then shows at most 3).",
        "",
        *_table(result["groups"], k),
        "",
        "The answer line: how often a quoted sentence comes from the labelled section, and how"
        " often one is the labelled answer sentence itself. Before: the top result's opening"
        " sentence, which is what a person read first.",
        "",
        "| questions | from the right section, before | after | the labelled sentence, before "
        "| after | questions with a quote |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {name} | {before['groups'][name]['answer_from_right_section']:.3f} "
            f"| {group['answer_from_right_section']:.3f} "
            f"| {before['groups'][name]['labelled_answer_quoted']:.3f} "
            f"| {group['labelled_answer_quoted']:.3f} | {group['quoted_something']:.3f} |"
            for name, group in result["groups"].items()
        ),
        "",
        f"Composing the answer line over the top {SHOWN} (sentence vectors stored at ingest): "
        f"p50 {_pct(cold, 50):.1f} ms, p95 {_pct(cold, 95):.1f} ms.",
        "",
        f"Right section not in the top {k}:",
        "",
        *_misses(result["questions"]),
    ]
    record("answer_quality", lines)


if __name__ == "__main__":
    main()
