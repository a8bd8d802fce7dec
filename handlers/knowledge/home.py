"""The App Home's knowledge part: what Lepton recommends to this person (snippets people like
them found helpful, private ones only from channels they are in) and their recent searches."""

from __future__ import annotations

from handlers.plumbing.blocks import Block, escape, link, section
from handlers.plumbing.services import Services, Viewer
from indexer.insights.recommendations import (
    RecentSearch,
    Recommendation,
    recent_searches,
    recommend,
)

NOTHING_YET = (
    "_Nothing yet: react :+1: or :-1: to my answers and I will learn what helps you and people "
    "like you._"
)


def knowledge_section(services: Services, viewer: Viewer) -> list[Block]:
    private = services.membership.private_channels(viewer.client, viewer.team_id, viewer.user_id)
    recommendations = recommend(
        services.feedback, services.sessions, viewer.user_id, channels=private
    )
    recent = recent_searches(services.sessions, viewer.user_id)
    return [
        _header("Recommended for you"),
        *([section(_recommendation_line(r)) for r in recommendations] or [section(NOTHING_YET)]),
        _header("Your recent searches"),
        section("\n".join(_recent_line(r) for r in recent) or "_No searches yet._"),
    ]


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _recommendation_line(r: Recommendation) -> str:
    heading = link(r.url, r.title)
    if r.section:
        heading += f" \u203a {escape(r.section)}"
    return f"• {heading}\n_{escape(r.reason)}_"


def _recent_line(r: RecentSearch) -> str:
    mark = "" if r.answered else " _(no good answer yet)_"
    return f"• {escape(r.query)}{mark}"
