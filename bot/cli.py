"""The `lepton` command line: one entry point for operators, the Procfile and the README."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

import models
from bot import migrate as migrations
from bot.settings import Settings, SettingsError, load_settings

EXIT_USAGE = 2
EXIT_FAILURE = 1


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    for line in message.splitlines() or [message]:
        click.echo(f"lepton: {line}", err=True)
    sys.exit(code)


class LeptonContext:
    """Lazily built settings and engine, so `--help` works with a broken configuration."""

    def __init__(self, env_file: str) -> None:
        self.env_file = env_file
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.env_file)
            except SettingsError as exc:
                fail(str(exc), EXIT_USAGE)
            logging.basicConfig(
                level=self._settings.log_level,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
            if self._settings.log_level != "DEBUG":
                logging.getLogger("alembic").setLevel(logging.WARNING)
        return self._settings

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
@click.version_option(package_name="lepton")
@click.pass_context
def cli(ctx: click.Context, env_file: str) -> None:
    """Lepton: your team's knowledge, pulse surveys and training, answered in Slack."""
    ctx.obj = LeptonContext(env_file)


@cli.command()
@pass_lepton
def migrate(ctx: LeptonContext) -> None:
    """Create or upgrade the database schema to the latest version (safe to repeat)."""
    before, after = database_call(ctx, migrations.upgrade, ctx.engine)
    if before == after:
        click.echo(f"{safe_url(ctx)}: already at revision {after}; nothing to do.")
    else:
        click.echo(f"{safe_url(ctx)}: migrated from {before or 'an empty database'} to {after}.")


@cli.command()
@pass_lepton
def stats(ctx: LeptonContext) -> None:
    """Counts of what Lepton holds: knowledge, questions, ratings, surveys, training."""
    engine = ctx.migrated_engine()
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
        with engine.connect() as conn:
            return [
                (label, conn.scalar(select(func.count()).select_from(m)) or 0) for label, m in rows
            ]

    for label, count in database_call(ctx, count_all):
        click.echo(f"{label:>22}: {count}")


def _not_built_yet(name: str, what: str) -> None:
    @cli.command(
        name=name,
        help=f"{what} (not available yet in this version).",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def command() -> None:
        fail(f"`lepton {name}` is not available yet in this version ({what.lower()}).", EXIT_USAGE)


for _name, _what in [
    ("ingest", "Ingest knowledge sources into the database and index"),
    ("reindex", "Rebuild the search index from stored embeddings"),
    ("find", "Search the knowledge base and print the results"),
    ("serve", "Serve the Slack app over HTTP at /slack/events on $PORT"),
    ("socket", "Connect the Slack app over Socket Mode"),
    ("worker", "Run the scheduler (surveys, nudges, digests)"),
    ("console", "Try every Lepton flow in a local terminal Slack"),
]:
    _not_built_yet(_name, _what)


def main() -> None:
    try:
        cli(prog_name="lepton")
    except SQLAlchemyError as exc:
        fail(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}")
