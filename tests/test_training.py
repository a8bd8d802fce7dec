"""Training catalog import and assignments on both real databases, on a fixed clock: what an
admin sees when a catalog file is wrong, and what learners and managers see afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from indexer.embedding import Embedder
from indexer.ingest.documents import LoadResult, Section, SourceDocument
from indexer.ingest.pipeline import Ingestor
from indexer.learning.feedback import Feedback
from indexer.search.index_store import KnowledgeIndex
from indexer.search.ranker import Ranker
from models import Assignment, Document, LearningPath, Snippet, TrainingModule
from people.training.assignments import Training, TrainingError, parse_assignment_csv
from people.training.catalog import CatalogError, ImportReport, import_catalog, related_snippets
from tests.helpers import local_sessions

pytestmark = pytest.mark.both_backends

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "training.yml"
ALICE, BOB, CARA, ADMIN = "UALICE", "UBOB", "UCARA", "UADMIN"


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    migrations.upgrade(engine)
    yield local_sessions(engine)


@pytest.fixture
def training(sessions: sessionmaker[Session]) -> Training:
    import_catalog(sessions, EXAMPLE)
    return Training(sessions)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _rows(sessions: sessionmaker[Session], user_id: str) -> dict[str, Assignment]:
    with sessions() as session:
        query = (
            select(TrainingModule.key, Assignment)
            .join(Assignment, Assignment.module_id == TrainingModule.id)
            .where(Assignment.user_id == user_id)
        )
        return {key: row for key, row in session.execute(query)}


def _catalog_error(sessions: sessionmaker[Session], path: Path) -> str:
    with pytest.raises(CatalogError) as caught:
        import_catalog(sessions, path)
    return str(caught.value)


# Catalog import


def test_example_catalog_imports_cleanly_and_again_unchanged(
    sessions: sessionmaker[Session],
) -> None:
    first = import_catalog(sessions, EXAMPLE)
    assert first == ImportReport(modules_created=11, paths_created=2)
    assert import_catalog(sessions, EXAMPLE) == ImportReport(
        modules_unchanged=11, paths_unchanged=2
    )
    with sessions() as session:
        k8s = session.scalars(
            select(TrainingModule).where(TrainingModule.key == "kubernetes-201")
        ).one()
        assert [p.key for p in k8s.prerequisites] == ["kubernetes-101"]
        assert k8s.topic == "ops" and "kubernetes" in k8s.tags
        sre = session.scalars(select(LearningPath).where(LearningPath.key == "sre-onboarding"))
        assert sre.one().module_keys[:3] == ["security-basics", "kubernetes-101", "kubernetes-201"]


CSV = """key,title,link,description,tags,topic,difficulty,minutes,prerequisites
git-basics,Git basics,https://learn.example/git,,git;workflow,engineering,beginner,20,
code-review,Code review,,"Reviewing, kindly",code-review|process,engineering,,30,git-basics
testing,Testing,,,,engineering,intermediate,,git-basics;code-review
"""


def test_csv_import_then_an_edited_title_is_an_update(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    assert import_catalog(sessions, _write(tmp_path, "training.csv", CSV)) == ImportReport(
        modules_created=3
    )
    edited = CSV.replace("Code review,", "Code review for everyone,")
    report = import_catalog(sessions, _write(tmp_path, "training.csv", edited))
    assert report == ImportReport(modules_updated=1, modules_unchanged=2)
    with sessions() as session:
        review = session.scalars(
            select(TrainingModule).where(TrainingModule.key == "code-review")
        ).one()
        assert review.title == "Code review for everyone"
        assert review.tags == ["code-review", "process"]
        assert review.description == "Reviewing, kindly"
        assert review.url is None and review.minutes == 30
        testing = session.scalars(select(TrainingModule).where(TrainingModule.key == "testing"))
        assert sorted(p.key for p in testing.one().prerequisites) == ["code-review", "git-basics"]


def test_bad_csv_rows_are_reported_by_line_and_nothing_is_imported(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_catalog(sessions, EXAMPLE)
    before = _count(sessions, TrainingModule)
    bad = _write(
        tmp_path,
        "training.csv",
        "key,title,minutes,link\n"
        "brand-new,Something new,15,\n"
        "kubernetes-101,Renamed,about an hour,\n"
        "fine,Fine,,https://learn.example/fine\n"
        "Bad Key,,0,ftp://files.example/x\n",
    )
    message = _catalog_error(sessions, bad)
    lines = message.splitlines()
    assert "training.csv line 3: minutes: must be a whole number of minutes" in lines
    assert any(line.startswith("training.csv line 5: key: `Bad Key`") for line in lines)
    assert "training.csv line 5: title: is required" in lines
    assert any(line.startswith("training.csv line 5: minutes:") for line in lines)
    assert any(line.startswith("training.csv line 5: link:") for line in lines)
    assert not any("line 2" in line or "line 4" in line for line in lines)
    assert _count(sessions, TrainingModule) == before
    with sessions() as session:
        titles = set(session.scalars(select(TrainingModule.title)))
    assert "Kubernetes 101" in titles and "Something new" not in titles


def test_a_prerequisite_cycle_is_reported_as_a_chain(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        "training.yml",
        "modules:\n"
        "  - {key: a, title: A, prerequisites: [b]}\n"
        "  - {key: b, title: B, prerequisites: [a]}\n"
        "  - {key: c, title: C, prerequisites: [c]}\n",
    )
    message = _catalog_error(sessions, path)
    assert "modules[0].prerequisites: prerequisite cycle: a -> b -> a (line 2)" in message
    assert "modules[2].prerequisites: a module cannot require itself" in message
    assert _count(sessions, TrainingModule) == 0


def test_a_cycle_through_the_stored_catalog_is_caught(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_catalog(sessions, EXAMPLE)
    path = _write(
        tmp_path,
        "fix.csv",
        "key,title,prerequisites\nkubernetes-101,Kubernetes 101,kubernetes-201\n",
    )
    message = _catalog_error(sessions, path)
    assert "fix.csv line 2: prerequisites: prerequisite cycle:" in message
    assert "kubernetes-101 -> kubernetes-201 -> kubernetes-101" in message


def test_unknown_prerequisites_and_item_problems_name_where_they_are(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_catalog(sessions, EXAMPLE)
    path = _write(
        tmp_path,
        "training.yml",
        "modules:\n"
        "  - key: helm-charts\n"
        "    title: Helm charts\n"
        "    prerequisites: [kubernetes-10]\n"
        "  - key: profiling\n"
        "    title: Profiling\n"
        "    difficulty: expert\n"
        "    tags: [performance, two words]\n"
        "  - key: helm-charts\n"
        "    title: Again\n",
    )
    message = _catalog_error(sessions, path)
    assert (
        "training.yml modules[0].prerequisites: no module `kubernetes-10` in this file or in the "
        "catalog. Did you mean `kubernetes-101`? (line 4)"
    ) in message
    assert "training.yml modules[1].difficulty: `expert` is not one of" in message
    assert "(line 7)" in message
    assert "training.yml modules[1].tags: `two words` is not a tag" in message
    assert "training.yml modules[2].key: `helm-charts` is used twice (first at modules[0])" in (
        message
    )
    assert _count(sessions, TrainingModule) == 11


def test_a_path_listing_a_module_before_its_prerequisite_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_catalog(sessions, EXAMPLE)
    path = _write(
        tmp_path,
        "paths.yml",
        "paths:\n"
        "  - key: platform\n"
        "    title: Platform\n"
        "    modules: [kubernetes-201, kubernetes-101, helm-advanced]\n",
    )
    message = _catalog_error(sessions, path)
    assert (
        "paths.yml paths[0].modules: `kubernetes-201` comes before its prerequisite "
        "`kubernetes-101`"
    ) in message
    assert "no module `helm-advanced`" in message
    assert _count(sessions, LearningPath) == 2


# Assigning


def test_assigning_kubernetes_201_assigns_101_first_and_again_does_not_duplicate(
    training: Training, sessions: sessionmaker[Session]
) -> None:
    due = NOW + timedelta(days=14)
    result = training.assign(ALICE, "kubernetes-201", due, ADMIN, NOW)
    assert result.assigned == ("kubernetes-101", "kubernetes-201")
    rows = _rows(sessions, ALICE)
    assert rows["kubernetes-101"].origin == "prerequisite:kubernetes-201"
    assert rows["kubernetes-201"].origin == "admin"
    assert rows["kubernetes-101"].due_at == rows["kubernetes-201"].due_at == due
    assert rows["kubernetes-101"].id < rows["kubernetes-201"].id

    later = due + timedelta(days=7)
    again = training.assign(ALICE, "kubernetes-201", later, ADMIN, NOW)
    assert again.assigned == ()
    assert again.already_assigned == ("kubernetes-101", "kubernetes-201")
    rows = _rows(sessions, ALICE)
    assert len(rows) == 2 and _count(sessions, Assignment) == 2
    assert rows["kubernetes-201"].due_at == later
    assert rows["kubernetes-101"].due_at == due


def test_unknown_modules_get_a_suggestion(training: Training) -> None:
    with pytest.raises(TrainingError, match=r"no training module `k8s-10`") as caught:
        training.assign(ALICE, "k8s-10", None, ADMIN, NOW)
    with pytest.raises(TrainingError) as caught:
        training.assign(ALICE, "kubernetes-10", None, ADMIN, NOW)
    assert str(caught.value) == (
        "There is no training module `kubernetes-10`. Did you mean `kubernetes-101`?"
    )
    with pytest.raises(TrainingError, match="already past"):
        training.assign(ALICE, "kubernetes-101", NOW - timedelta(days=1), ADMIN, NOW)


def test_a_completed_prerequisite_is_not_assigned_again(
    training: Training, sessions: sessionmaker[Session]
) -> None:
    training.complete(ALICE, "kubernetes-101", NOW)
    result = training.assign(ALICE, "kubernetes-201", None, ADMIN, NOW)
    assert result.assigned == ("kubernetes-201",)
    assert result.already_completed == ("kubernetes-101",)
    assert len(_rows(sessions, ALICE)) == 2


def test_a_path_is_assigned_in_order_with_its_origins(
    training: Training, sessions: sessionmaker[Session]
) -> None:
    result = training.assign_path(BOB, "sre-onboarding", None, ADMIN, NOW)
    assert result.assigned == (
        "security-basics",
        "kubernetes-101",
        "kubernetes-201",
        "monitoring-101",
        "incident-response",
        "oncall-readiness",
    )
    rows = _rows(sessions, BOB)
    assert {row.origin for row in rows.values()} == {"path:sre-onboarding"}
    assert [k for k, _ in sorted(rows.items(), key=lambda kv: kv[1].id)] == list(result.assigned)

    new_engineer = training.assign_path(BOB, "new-engineer", None, ADMIN, NOW)
    assert new_engineer.already_assigned == ("security-basics",)
    assert new_engineer.assigned == (
        "data-privacy",
        "git-workflow",
        "code-review",
        "python-testing",
    )
    with pytest.raises(TrainingError, match="is a single module, not a learning path"):
        training.assign_path(BOB, "kubernetes-101", None, ADMIN, NOW)


def test_a_bulk_csv_with_a_bad_row_assigns_nobody(
    training: Training, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(TrainingError) as caught:
        parse_assignment_csv(
            "user,module,due\n"
            "UALICE,kubernetes-101,2026-12-01\n"
            "bob,kubernetes-101,\n"
            "<@UCARA|cara>,security-basics,next week\n"
        )
    assert str(caught.value).splitlines()[1:] == [
        "line 3: user: `bob` is not a Slack user id (like U012AB3CD or <@U012AB3CD>)",
        "line 4: due: `next week` is not a date like 2026-12-01 or a time like "
        "2026-12-01T17:00+01:00",
    ]

    rows = parse_assignment_csv(
        "user,module,due\n"
        "UALICE,kubernetes-101,2026-12-01\n"
        "<@UBOB|bob>,new-engineer,\n"
        "UCARA,kubernetes-10,2026-12-01T17:00+01:00\n"
    )
    assert rows == [
        (ALICE, "kubernetes-101", datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)),
        (BOB, "new-engineer", None),
        (CARA, "kubernetes-10", datetime(2026, 12, 1, 16, 0, tzinfo=UTC)),
    ]
    with pytest.raises(TrainingError) as caught:
        training.assign_many(rows, ADMIN, NOW)
    assert "row 3 (UCARA, kubernetes-10): There is no training module or path" in str(caught.value)
    assert _count(sessions, Assignment) == 0

    results = training.assign_many(rows[:2], ADMIN, NOW)
    assert [r.user_id for r in results] == [ALICE, BOB]
    assert results[1].assigned[0] == "security-basics"
    assert _rows(sessions, BOB)["code-review"].origin == "path:new-engineer"
    assert _rows(sessions, ALICE)["kubernetes-101"].due_at == rows[0][2]


def test_joining_enrols_without_a_due_date(
    training: Training, sessions: sessionmaker[Session]
) -> None:
    result = training.join(CARA, "code-review", NOW)
    assert result.assigned == ("git-workflow", "code-review")
    rows = _rows(sessions, CARA)
    assert rows["code-review"].origin == "self"
    assert rows["git-workflow"].origin == "prerequisite:code-review"
    assert all(row.due_at is None and row.assigned_by == CARA for row in rows.values())
    assert training.join(CARA, "code-review", NOW).already_assigned == (
        "git-workflow",
        "code-review",
    )


def test_completing_is_idempotent_and_says_what_is_still_open(
    training: Training, sessions: sessionmaker[Session]
) -> None:
    training.assign(ALICE, "kubernetes-201", None, ADMIN, NOW)
    first = training.complete(ALICE, "kubernetes-201", NOW)
    assert first.newly_completed and first.open_prerequisites == ("kubernetes-101",)
    assert first.still_open == 1
    again = training.complete(ALICE, "kubernetes-201", NOW + timedelta(hours=2))
    assert not again.newly_completed and again.completed_at == NOW

    unassigned = training.complete(ALICE, "git-workflow", NOW)
    assert unassigned.newly_completed and unassigned.open_prerequisites == ()
    row = _rows(sessions, ALICE)["git-workflow"]
    assert row.origin == "self" and row.completed_at == NOW
    assert _count(sessions, Assignment) == 3


def test_snoozing_is_only_for_your_own_open_assignment_and_for_1_3_or_7_days(
    training: Training, sessions: sessionmaker[Session]
) -> None:
    training.assign(ALICE, "security-basics", NOW + timedelta(days=2), ADMIN, NOW)
    training.assign(ALICE, "git-workflow", None, ADMIN, NOW)
    rows = _rows(sessions, ALICE)
    mine = rows["security-basics"].id
    with pytest.raises(TrainingError, match="1, 3, 7 days, not 2"):
        training.snooze(ALICE, mine, 2, NOW)
    with pytest.raises(TrainingError, match="not yours"):
        training.snooze(BOB, mine, 3, NOW)
    with pytest.raises(TrainingError, match="not yours"):
        training.snooze(ALICE, 999_999, 3, NOW)
    view = training.snooze(ALICE, mine, 3, NOW)
    assert view.snoozed_until == NOW + timedelta(days=3)
    assert _rows(sessions, ALICE)["security-basics"].snoozed_until == NOW + timedelta(days=3)

    training.complete(ALICE, "git-workflow", NOW)
    with pytest.raises(TrainingError, match="already completed"):
        training.snooze(ALICE, rows["git-workflow"].id, 1, NOW)


def test_progress_puts_overdue_first_then_by_due_date_then_done(training: Training) -> None:
    past_now = NOW - timedelta(days=10)
    training.assign(ALICE, "kubernetes-201", NOW + timedelta(days=5), ADMIN, past_now)
    training.assign(ALICE, "code-review", NOW - timedelta(days=1), ADMIN, past_now)
    training.join(ALICE, "monitoring-101", past_now)
    training.complete(ALICE, "git-workflow", NOW - timedelta(days=3))
    training.complete(ALICE, "security-basics", NOW - timedelta(days=1))

    views = training.progress(ALICE, NOW)
    assert [v.module_key for v in views] == [
        "code-review",
        "kubernetes-101",
        "kubernetes-201",
        "monitoring-101",
        "security-basics",
        "git-workflow",
    ]
    by_key = {v.module_key: v for v in views}
    assert by_key["code-review"].overdue and by_key["code-review"].blocked_by == ()
    assert not by_key["kubernetes-201"].overdue
    assert by_key["kubernetes-201"].blocked_by == ("kubernetes-101",)
    assert by_key["monitoring-101"].due_at is None and by_key["monitoring-101"].origin == "self"
    assert by_key["security-basics"].completed_at == NOW - timedelta(days=1)
    assert training.progress(BOB, NOW) == []

    due = [(o.user_id, o.module_key, o.overdue) for o in training.open_assignments(NOW)]
    assert due == [
        (ALICE, "code-review", True),
        (ALICE, "kubernetes-101", False),
        (ALICE, "kubernetes-201", False),
    ]


def test_completion_report_counts_without_naming_anyone(training: Training) -> None:
    past_now = NOW - timedelta(days=10)
    for user in (ALICE, BOB, CARA):
        training.assign(user, "security-basics", NOW - timedelta(days=1), ADMIN, past_now)
    training.complete(ALICE, "security-basics", NOW - timedelta(days=2))
    training.join(BOB, "git-workflow", NOW)

    report = training.completion_report(NOW)
    assert [(m.key, m.assigned, m.done, m.overdue) for m in report.modules] == [
        ("git-workflow", 1, 0, 0),
        ("security-basics", 3, 1, 2),
    ]
    assert (report.assigned, report.done, report.overdue, report.people) == (4, 1, 2, 3)
    assert not any(user in repr(report) for user in (ALICE, BOB, CARA, ADMIN))


def test_listing_and_searching_the_catalog(training: Training) -> None:
    assert {m.key for m in training.modules("kubernetes")} == {
        "kubernetes-101",
        "kubernetes-201",
    }
    assert [m.key for m in training.modules("postmortem")] == ["incident-response"]
    assert len(training.modules()) == 11
    assert [p.key for p in training.paths()] == ["new-engineer", "sre-onboarding"]
    assert training.module("kubernetes-201").prerequisites == ("kubernetes-101",)


# Related reading


def test_related_snippets_share_the_module_topic_or_tags(
    training: Training, sessions: sessionmaker[Session], embedder: Embedder, tmp_path: Path
) -> None:
    pages = {
        "deploying": (["kubernetes", "deployment", "helm"], "ops", "public"),
        "secrets": (["secrets", "kubernetes", "gcp"], "ops", "public"),
        "alerts": (["monitoring", "alerting"], "ops", "public"),
        "pytest": (["testing", "python"], "engineering", "public"),
        "private": (["kubernetes", "deployment", "secrets"], "ops", "channel"),
    }
    texts = {
        "deploying": ("Shipping a service to Kubernetes with helm", "Rolling out a new release"),
        "secrets": ("Kubernetes secrets from GCP Secret Manager", "Rotating a leaked secret"),
        "alerts": ("Paging the on-call engineer", "Dashboards for error rates"),
        "pytest": ("Writing pytest fixtures", "Parametrising python tests"),
        "private": ("Kubernetes secrets of the payments cluster", "Debugging its rollouts"),
    }
    knowledge = KnowledgeIndex(sessions, tmp_path / "index", embedder)
    Ingestor(knowledge).ingest(
        LoadResult(
            documents=[
                SourceDocument(
                    source=f"kb/{name}.md",
                    source_type="markdown",
                    title=name,
                    url=f"https://wiki.example/{name}",
                    sections=[Section((), text, atomic=True) for text in texts[name]],
                    tags=tags,
                    topic=topic,
                    visibility=visibility,
                    channel_id="C0PAYMENTS" if visibility != "public" else None,
                )
                for name, (tags, topic, visibility) in pages.items()
            ]
        )
    )
    ranker = Ranker(knowledge, Feedback(sessions))
    with sessions() as session:
        secrets = set(
            session.scalars(select(Snippet.id).join(Document).where(Document.title == "secrets"))
        )
    assert len(secrets) == 2, "two snippets per page, so one per document is being checked"

    related = related_snippets(ranker, sessions, "kubernetes-201", limit=3)
    assert [r.title for r in related] == ["secrets", "deploying", "alerts"]
    assert related[0].snippet_id in secrets
    assert related[0].url == "https://wiki.example/secrets"
    assert [r.title for r in related_snippets(ranker, sessions, "python-testing")] == ["pytest"]
    assert related_snippets(ranker, sessions, "no-such-module") == []
