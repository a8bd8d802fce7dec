"""The `lepton` command line: one entry point for operators, the Procfile and the README."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

import models
from bot import migrate as migrations
from bot.console.repl import PROMPT as CONSOLE_PROMPT
from bot.console.repl import EmptyKnowledge
from bot.console.repl import run as run_console
from bot.log_redaction import configure_logging
from bot.services import WORKSPACES_DIR, Services, WorkspaceServices, respondent_secret
from bot.serving import serve_http, serve_socket
from bot.settings import Settings, SettingsError, load_settings
from bot.stopping import interrupt_on_stop_signals, shut_down_on_stop_signals
from bot.worker import build_scheduler
from bot.workspaces import Installations, WorkspaceUnknown
from handlers.knowledge.channel_history import fetch_channel_documents
from indexer.ingest.documents import LoadResult
from indexer.ingest.loaders.files import load_tree
from indexer.ingest.loaders.slack_export import load_export
from indexer.insights.questions import Asked
from models.base import utcnow
from models.workspace import ALL_WORKSPACES, LOCAL_TEAM, Workspace, purge_workspace
from people.audit import record_audit
from people.surveys.chart import trend_chart_png
from people.surveys.definitions import SurveyConfigError
from people.surveys.digest import digest_text
from people.surveys.lookups import RoundInfo, SurveyError
from people.training.assignments import TrainingError, parse_assignment_csv
from people.training.catalog import CatalogError, import_catalog
from people.training.chart import completion_chart_png

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXIT_USAGE = 2
CLI_ACTOR = "cli"
EXIT_FAILURE = 1
QUIET_LOGGERS = ("alembic", "sentence_transformers", "faiss", "httpx", "pypdf")


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    for line in message.splitlines() or [message]:
        click.echo(f"lepton: {line}", err=True)
    sys.exit(code)


class LeptonContext:
    """Lazily built settings and engine, so `--help` works with a broken configuration."""

    def __init__(self, env_file: str, workspace: str | None = None) -> None:
        self.env_file = env_file
        self.workspace = workspace
        self._settings: Settings | None = None
        self._engine: Engine | None = None
        self._services: Services | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                overrides = {"lepton_workspace": self.workspace} if self.workspace else {}
                self._settings = load_settings(self.env_file, **overrides)
            except SettingsError as exc:
                fail(str(exc), EXIT_USAGE)
            configure_logging(self._settings)
            if self._settings.log_level != "DEBUG":
                for chatty in QUIET_LOGGERS:
                    logging.getLogger(chatty).setLevel(logging.WARNING)
        return self._settings

    def services(self) -> Services:
        """Everything wired on a migrated database."""
        if self._services is None:
            self._services = Services(self.settings, self.migrated_engine())
        return self._services

    def home(self) -> WorkspaceServices:
        """The workspace this command acts on, or a clear failure saying how to name it."""
        try:
            return self.services().home
        except WorkspaceUnknown as unknown:
            fail(str(unknown), EXIT_USAGE)

    def migration_team(self) -> str:
        """Who owns rows stored before workspaces were kept apart: nobody on a new database."""
        if database_call(self, migrations.current_revision, self.engine) is None:
            return LOCAL_TEAM
        try:
            return Installations(self.settings, self.engine).home().team_id
        except WorkspaceUnknown as unknown:
            fail(f"which workspace owns the data stored so far? {unknown}", EXIT_USAGE)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = models.create_db_engine(self.settings.database_url)
        return self._engine

    def migrated_engine(self) -> Engine:
        """The engine, after checking the schema is at head (commands other than migrate)."""
        current = database_call(self, migrations.current_revision, self.engine)
        head = migrations.head_revision()
        if current != head:
            fail(
                f"the database is at revision {current or 'none'}, not {head}: "
                "run `lepton migrate` first"
            )
        return self.engine


def database_call(ctx: LeptonContext, call: Callable[..., Any], *args: Any) -> Any:
    """Run `call`, turning an unreachable database into one clear line instead of a traceback."""
    try:
        return call(*args)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        fail(f"DATABASE_URL: cannot use {safe_url(ctx)}: {reason}")


def safe_url(ctx: LeptonContext) -> str:
    return ctx.engine.url.render_as_string(hide_password=True)


pass_lepton = click.make_pass_decorator(LeptonContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--env-file",
    default=".env",
    show_default=True,
    metavar="PATH",
    help="Optional file of KEY=value settings read before the environment.",
)
@click.option(
    "--workspace",
    metavar="TEAM_ID",
    help="The Slack workspace (team ID) a command acts on; needed when several are installed.",
)
@click.version_option(package_name="lepton")
@click.pass_context
def cli(ctx: click.Context, env_file: str, workspace: str | None) -> None:
    """Lepton: your team's knowledge, pulse surveys and training, answered in Slack."""
    ctx.obj = LeptonContext(env_file, workspace)


@cli.command()
@pass_lepton
def migrate(ctx: LeptonContext) -> None:
    """Create or upgrade the database schema to the latest version (safe to repeat)."""
    before, after = database_call(
        ctx,
        migrations.upgrade,
        ctx.engine,
        ctx.migration_team(),
        respondent_secret(ctx.settings),
    )
    if before == after:
        click.echo(f"{safe_url(ctx)}: already at revision {after}; nothing to do.")
    else:
        click.echo(f"{safe_url(ctx)}: migrated from {before or 'an empty database'} to {after}.")


@cli.command()
@pass_lepton
def stats(ctx: LeptonContext) -> None:
    """Counts of what Lepton holds for the workspace: knowledge, questions, ratings, surveys,
    training."""
    sessions = ctx.home().sessions
    rows = [
        ("documents", models.Document),
        ("snippets", models.Snippet),
        ("questions asked", models.QueryLog),
        ("answers posted", models.Answer),
        ("ratings", models.Rating),
        ("knowledge gaps", models.KnowledgeGap),
        ("surveys", models.Survey),
        ("survey rounds", models.SurveyRound),
        ("training modules", models.TrainingModule),
        ("training assignments", models.Assignment),
    ]

    def count_all() -> list[tuple[str, int]]:
        with sessions() as session:
            return [
                (label, session.scalar(select(func.count()).select_from(m)) or 0)
                for label, m in rows
            ]

    for label, count in database_call(ctx, count_all):
        click.echo(f"{label:>22}: {count}")


def _load_sources(paths: tuple[Path, ...], workspace_url: str) -> tuple[LoadResult, list[str]]:
    """Load every path with the loader its shape calls for; return prune prefixes too."""
    loaded = LoadResult()
    prefixes: list[str] = []
    for path in paths:
        if is_slack_export(path):
            loaded.extend(load_export(path, workspace_url=workspace_url))
            prefixes.append(f"slack-export:{path.stem if path.is_file() else path.name}/")
        else:
            loaded.extend(load_tree(path))
            root = str(path.resolve())
            prefixes.append(root + "/" if path.is_dir() else root)
    return loaded, prefixes


def is_slack_export(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or (path / "channels.json").is_file()


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--prune",
    is_flag=True,
    help="Also remove snippets whose source is gone from the given folders.",
)
@click.option(
    "--slack-channel",
    "slack_channels",
    multiple=True,
    metavar="CHANNEL_ID",
    help="Ingest a live channel's history via the Web API (repeatable).",
)
@click.option(
    "--workspace-url",
    default="https://slack.com",
    show_default=True,
    help="Workspace URL used to build permalinks for Slack export threads.",
)
@pass_lepton
def ingest(
    ctx: LeptonContext,
    paths: tuple[Path, ...],
    prune: bool,
    slack_channels: tuple[str, ...],
    workspace_url: str,
) -> None:
    """Add or update knowledge from folders (Markdown, reST, HTML, text, PDF, FAQ CSV/JSON),
    Slack export zips or folders, and live Slack channels. Unchanged files are skipped."""
    if not paths and not slack_channels:
        fail(
            "nothing to ingest: give a folder, file or Slack export, or --slack-channel", EXIT_USAGE
        )
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}", EXIT_USAGE)
    if slack_channels:
        ctx.settings.require("ingest --slack-channel", "SLACK_BOT_TOKEN")
    services = ctx.home()
    click.echo(f"Ingesting into workspace {services.team.team_id}.")
    loaded, prefixes = _load_sources(paths, workspace_url.rstrip("/"))
    if slack_channels:
        for channel in slack_channels:
            loaded.extend(fetch_channel_documents(services.sending_client, channel))
    summary = services.ingestor.ingest(
        loaded, prune_prefixes=prefixes if prune else (), progress=True
    )
    sources = [str(p) for p in paths] + [f"slack:{c}" for c in slack_channels]
    counts = {k: v for k, v in vars(summary).items() if isinstance(v, int)}
    record_audit(
        services.sessions,
        CLI_ACTOR,
        "knowledge.ingest",
        ", ".join(sources),
        {**counts, "prune": prune},
    )
    for line in summary.lines():
        click.echo(line)


@cli.command()
@pass_lepton
def reindex(ctx: LeptonContext) -> None:
    """Rebuild the search index from the embeddings stored in the database (no re-embedding,
    unless the configured model changed)."""
    services = ctx.home()
    knowledge = services.knowledge
    knowledge.rebuild()
    record_audit(
        services.sessions,
        CLI_ACTOR,
        "knowledge.reindex",
        details={"snippets": len(knowledge.index)},
    )
    click.echo(
        f"index rebuilt: {len(knowledge.index)} snippets, {knowledge.index.kind} search, "
        f"version {knowledge.version}, model {knowledge.embedder.name}"
    )


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("-n", "--limit", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="CHANNEL_ID",
    help="Also show snippets restricted to this channel's members (repeatable).",
)
@pass_lepton
def find(ctx: LeptonContext, query: tuple[str, ...], limit: int, channels: tuple[str, ...]) -> None:
    """Search the knowledge base and print the best snippets with their sources."""
    text = " ".join(query).strip()
    if not text:
        fail("the query is empty: try `lepton find tensorflow 2.0`", EXIT_USAGE)
    services = ctx.home()
    if len(services.knowledge.index) == 0:
        fail("the knowledge base is empty: run `lepton ingest examples/knowledge` first")
    ranking, _ = services.questions.ask(text, Asked(surface="cli"), frozenset(channels), limit)
    if not ranking.results:
        click.echo("No matching snippets.")
    elif not ranking.confident:
        click.echo("Nothing strong found; the closest weak matches:")
    for rank, result in enumerate(ranking.results, start=1):
        heading = f"{result.title} > {result.section}" if result.section else result.title
        click.echo(f"{rank}. {heading}  (score {result.score:.2f})")
        click.echo(f"   source: {result.link}")
        click.echo(f"   tags: {', '.join(result.tags) or '-'}   topic: {result.topic or '-'}")
        click.echo(
            f"   why: dense {result.dense:.2f}, lexical {result.lexical:.2f}, "
            f"phrase {result.phrase:.2f}, "
            f"collaborative {result.cf:+.2f}, rating prior {result.prior:+.2f}"
        )
        excerpt = " ".join(result.text.split())
        click.echo(f"   {excerpt[:200]}{'…' if len(excerpt) > 200 else ''}")


@cli.command()
@click.option(
    "--script",
    type=click.File("r"),
    default=None,
    help="Run the lines of FILE instead of reading the keyboard.",
)
@pass_lepton
def console(ctx: LeptonContext, script: TextIO | None) -> None:
    """Try Lepton in the terminal, no Slack workspace needed."""
    lines: Iterable[str] = script if script is not None else _prompted_lines()
    try:
        run_console(
            ctx.settings, ctx.migrated_engine(), lines, click.echo, show_input=script is not None
        )
    except EmptyKnowledge:
        fail("the knowledge base is empty: run `lepton ingest examples/knowledge` first")


def _prompted_lines() -> Iterable[str]:
    while True:
        try:
            yield input(CONSOLE_PROMPT)
        except EOFError:
            return


@cli.command()
@pass_lepton
@click.pass_context
def start(click_ctx: click.Context, ctx: LeptonContext) -> None:
    """Migrate, load the example knowledge base if Lepton knows nothing yet, then connect to
    Slack when credentials are configured, or open the local console when they are not."""
    click_ctx.invoke(migrate)
    if len(ctx.home().knowledge.index) == 0 and EXAMPLES.is_dir():
        click.echo("Loading the example knowledge base (first start only)...")
        click_ctx.invoke(ingest, paths=(EXAMPLES / "knowledge", EXAMPLES / "slack-export"))
    settings = ctx.settings
    if not settings.has_slack_credentials:
        click_ctx.invoke(console)
    elif settings.slack_app_token:
        click_ctx.invoke(cli.commands["socket"])
    else:
        click_ctx.invoke(cli.commands["serve"])


SCHEDULER_OPTION = click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Also run the scheduler in this process (turn off when a `lepton worker` runs it).",
)


@cli.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: $PORT or 3000.")
@SCHEDULER_OPTION
@pass_lepton
def serve(ctx: LeptonContext, host: str, port: int | None, scheduler: bool) -> None:
    """Serve the Slack app over HTTP: Slack sends events, commands and interactions to
    /slack/events (and, with OAuth configured, installs go through /slack/install)."""
    settings = ctx.settings
    settings.require("serve", "SLACK_SIGNING_SECRET")
    if not settings.oauth_enabled:
        settings.require("serve", "SLACK_BOT_TOKEN")
    services = _ready_services(ctx, scheduler)
    interrupt_on_stop_signals()
    serve_http(services, host, port or settings.port)


@cli.command()
@SCHEDULER_OPTION
@pass_lepton
def socket(ctx: LeptonContext, scheduler: bool) -> None:
    """Connect the Slack app over Socket Mode (no public URL needed)."""
    ctx.settings.require("socket", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
    services = _ready_services(ctx, scheduler)
    interrupt_on_stop_signals()
    serve_socket(services)


def _ready_services(ctx: LeptonContext, scheduler: bool) -> Services:
    services = _served(ctx)
    settings = ctx.settings
    if scheduler and (settings.slack_bot_token or settings.oauth_enabled):
        build_scheduler(services, blocking=False).start()
    if not settings.oauth_enabled and len(services.home.knowledge.index) == 0:
        click.echo(
            "lepton: the knowledge base is empty; answers will find nothing until you run "
            "`lepton ingest`",
            err=True,
        )
    return services


@cli.command()
@pass_lepton
def worker(ctx: LeptonContext) -> None:
    """Run the scheduler: survey rounds, invitations, reminders and digests. Safe to run more
    than one; each message still goes out once."""
    if not ctx.settings.oauth_enabled:
        ctx.settings.require("worker", "SLACK_BOT_TOKEN")
    services = _served(ctx)
    scheduler = build_scheduler(services, blocking=True)
    shut_down_on_stop_signals(scheduler)
    click.echo(f"lepton worker: running every {ctx.settings.lepton_tick_seconds}s; Ctrl-C stops")
    scheduler.start()


@cli.group()
def workspace() -> None:
    """The Slack workspaces Lepton holds data for."""


@workspace.command("list")
@pass_lepton
def workspace_list(ctx: LeptonContext) -> None:
    """Every workspace with stored knowledge, and whether Lepton is installed there now."""
    services = ctx.services()
    active = services.installed_teams()
    with services.all_sessions() as session:
        counts = session.execute(
            select(models.Document.team_id, func.count())
            .group_by(models.Document.team_id)
            .execution_options(**ALL_WORKSPACES)
        ).all()
    known = dict(counts) | {team: 0 for team in active if team not in dict(counts)}
    for team in sorted(known):
        state = "installed" if team in active else "not installed"
        click.echo(f"{team}  {state}  {known[team]} documents")


@workspace.command("delete")
@click.argument("team_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_lepton
def workspace_delete(ctx: LeptonContext, team_id: str, yes: bool) -> None:
    """Delete everything Lepton holds for one workspace: knowledge, ratings, questions, surveys
    and their answers, training, audit entries and its index files. Lepton must be uninstalled
    from it first. The deletion itself is recorded in the audit log."""
    services = ctx.services()
    if team_id in services.installed_teams():
        fail(f"Lepton is still installed in {team_id}: uninstall it there first", EXIT_USAGE)
    if not yes and not click.confirm(f"Delete all of {team_id}'s data? This cannot be undone"):
        fail("nothing deleted", EXIT_USAGE)
    with services.all_sessions() as session, session.begin():
        deleted = purge_workspace(session, team_id)
    shutil.rmtree(ctx.settings.lepton_data_dir / WORKSPACES_DIR / team_id, ignore_errors=True)
    gone = services.workspace(Workspace(team_id))
    record_audit(gone.sessions, CLI_ACTOR, "workspace.delete", team_id, deleted)
    click.echo(f"Deleted {sum(deleted.values())} rows of {team_id}.")


@cli.group()
def survey() -> None:
    """Pulse surveys (defined in the LEPTON_SURVEYS file)."""


@survey.command("list")
@pass_lepton
def survey_list(ctx: LeptonContext) -> None:
    """Every survey and its latest round."""
    surveys = _survey_services(ctx).surveys
    definitions = surveys.definitions()
    if not definitions:
        click.echo("No surveys: set LEPTON_SURVEYS to a survey file (see examples/surveys.yml).")
    for definition in definitions:
        latest = next(iter(surveys.rounds(definition.key, 1)), None)
        state = "never run" if latest is None else _round_line(latest)
        click.echo(f"{definition.key}: {definition.title} ({state})")


@survey.command("show")
@click.argument("key")
@pass_lepton
def survey_show(ctx: LeptonContext, key: str) -> None:
    """A survey's settings and its recent rounds."""
    surveys = _survey_services(ctx).surveys
    definition = _surveys_call(surveys.definition, key)
    click.echo(f"{definition.title} ({definition.key}), audience: {definition.audience}")
    for number, question in enumerate(definition.questions, start=1):
        click.echo(f"  {number}. {question.text} [{question.kind}]")
    for info in surveys.rounds(key):
        click.echo(f"  {_round_line(info)}")


@survey.command("start")
@click.argument("key")
@pass_lepton
def survey_start(ctx: LeptonContext, key: str) -> None:
    """Open a round now; the worker sends it at each person's local send time."""
    services = _survey_services(ctx)
    info = _surveys_call(services.surveys.start, key, utcnow())
    record_audit(services.sessions, CLI_ACTOR, "survey.start", key)
    click.echo(f"Opened round {info.number} of {key}; `lepton worker` sends the invitations.")


@survey.command("close")
@click.argument("key")
@pass_lepton
def survey_close(ctx: LeptonContext, key: str) -> None:
    """Close the open round; the worker posts its digest."""
    services = _survey_services(ctx)
    info = _surveys_call(services.surveys.close, key, utcnow())
    record_audit(services.sessions, CLI_ACTOR, "survey.close", key)
    click.echo(f"Closed round {info.number} of {key}: {info.responded} of {info.asked} answered.")


@survey.command("digest")
@click.argument("key")
@click.option("--round", "number", type=click.IntRange(1), default=None, help="Default: latest.")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the trend chart (PNG) to this file.",
)
@pass_lepton
def survey_digest(ctx: LeptonContext, key: str, number: int | None, chart: Path | None) -> None:
    """Print a round's digest (results of an open round stay withheld)."""
    services = _survey_services(ctx)
    definition, digest = _surveys_call(services.surveys.results.digest, key, number)
    record_audit(services.sessions, CLI_ACTOR, "survey.digest", key)
    click.echo(digest_text(digest, definition))
    if chart is not None:
        png = trend_chart_png(digest, definition)
        if png is None:
            click.echo("No chart: no round has enough responses to plot yet.")
        else:
            chart.write_bytes(png)
            click.echo(f"Chart written to {chart}")


@cli.group()
def training() -> None:
    """The training catalog and assignments."""


@training.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--all-workspaces",
    is_flag=True,
    help="Into every installed workspace (else the one --workspace names).",
)
@pass_lepton
def training_import(ctx: LeptonContext, path: Path, all_workspaces: bool) -> None:
    """Load modules and learning paths from a YAML or CSV file (all rows or none)."""
    targets = ctx.services().active_workspaces() if all_workspaces else [ctx.home()]
    for services in targets:
        try:
            report = import_catalog(services.sessions, path)
        except CatalogError as exc:
            fail(str(exc))
        record_audit(services.sessions, CLI_ACTOR, "training.import", str(path))
        click.echo(f"{services.team.team_id}: {report.summary()}")


@training.command("assign")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_lepton
def training_assign(ctx: LeptonContext, csv_file: Path) -> None:
    """Assign in bulk from a CSV of `user,module,due` (all rows or none)."""
    services = ctx.home()
    try:
        rows = parse_assignment_csv(csv_file.read_text(encoding="utf-8"))
        results = services.training.assign_many(rows, CLI_ACTOR, utcnow())
    except TrainingError as exc:
        fail(str(exc))
    record_audit(services.sessions, CLI_ACTOR, "training.assign", str(csv_file))
    added = sum(len(r.assigned) for r in results)
    click.echo(f"{len(rows)} rows: {added} new assignments (prerequisites included).")


@training.command("list")
@pass_lepton
def training_list(ctx: LeptonContext) -> None:
    """The catalog, and completion per module."""
    services = ctx.home()
    report = services.training.completion_report(utcnow())
    counts = {m.key: m for m in report.modules}
    for module in services.training.modules():
        seen = counts.get(module.key)
        done = f"{seen.done}/{seen.assigned} done" if seen and seen.assigned else "not assigned"
        click.echo(f"{module.key}: {module.title} ({done})")


@training.command("digest")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the completion chart (PNG) to this file.",
)
@pass_lepton
def training_digest(ctx: LeptonContext, chart: Path | None) -> None:
    """Print the completion digest managers get each week."""
    services = ctx.home()
    report = services.training.completion_report(utcnow())
    click.echo(
        f"{report.people} people, {report.assigned} assigned, {report.done} done, "
        f"{report.overdue} overdue"
    )
    for m in report.modules:
        if m.assigned:
            click.echo(f"  {m.title}: {m.done}/{m.assigned} done, {m.overdue} overdue")
    if chart is not None and (png := completion_chart_png(report)) is not None:
        chart.write_bytes(png)
        click.echo(f"Chart written to {chart}")


def _served(ctx: LeptonContext) -> Services:
    """The process's services, with every served workspace's survey file checked now."""
    services = ctx.services()
    try:
        for workspace in services.active_workspaces():
            _ = workspace.surveys
    except SurveyConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except WorkspaceUnknown as unknown:
        fail(str(unknown), EXIT_USAGE)
    return services


def _survey_services(ctx: LeptonContext) -> WorkspaceServices:
    services = ctx.home()
    try:
        _ = services.surveys
    except SurveyConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    return services


def _surveys_call(call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except SurveyError as exc:
        fail(str(exc).replace("`", ""))


def _round_line(info: RoundInfo) -> str:
    state = f"open until {info.closes_at:%Y-%m-%d %H:%M} UTC" if info.open else "closed"
    return (
        f"round {info.number} from {info.send_on}, {state}: asked {info.asked}, "
        f"answered {info.responded}, reminded {info.reminded}, waiting {info.pending}, "
        f"failed {info.failed}"
    )


def main() -> None:
    try:
        cli(prog_name="lepton")
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)
    except SQLAlchemyError as exc:
        fail(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}")
