"""The App Home tab: what Lepton recommends to this person, their recent searches, and the
training and survey slots that the people features fill in."""

from __future__ import annotations

from slack_sdk import WebClient

from handlers.plumbing.blocks import Block, escape, link, section
from handlers.plumbing.services import Services
from indexer.insights.recommendations import (
    RecentSearch,
    Recommendation,
    recent_searches,
    recommend,
)


def publish_home(services: Services, client: WebClient, user_id: str, team_id: str | None) -> None:
    private = services.membership.private_channels(client, team_id, user_id)
    recommendations = recommend(services.feedback, services.sessions, user_id, channels=private)
    recent = recent_searches(services.sessions, user_id)
    extra = [block for part in services.home_sections for block in part(user_id)]
    client.views_publish(user_id=user_id, view=home_view(recommendations, recent, extra))


def home_view(
    recommendations: list[Recommendation], recent: list[RecentSearch], extra: list[Block]
) -> Block:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Lepton"}},
        section(
            "Ask me anything with `/lepton find <question>`, mention me in a channel, or DM me."
        ),
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Recommended for you"}},
    ]
    if recommendations:
        blocks.extend(section(_recommendation_line(r)) for r in recommendations)
    else:
        blocks.append(
            section(
                "_Nothing yet: react :+1: or :-1: to my answers and I will learn what helps "
                "you and people like you._"
            )
        )
    blocks.append(
        {"type": "header", "text": {"type": "plain_text", "text": "Your recent searches"}}
    )
    if recent:
        blocks.append(section("\n".join(_recent_line(r) for r in recent)))
    else:
        blocks.append(section("_No searches yet._"))
    blocks.extend(extra)
    return {"type": "home", "blocks": blocks}


def _recommendation_line(r: Recommendation) -> str:
    heading = link(r.url, r.title)
    if r.section:
        heading += f" \u203a {escape(r.section)}"
    return f"• {heading}\n_{escape(r.reason)}_"


def _recent_line(r: RecentSearch) -> str:
    mark = "" if r.answered else " _(no good answer yet)_"
    return f"• {escape(r.query)}{mark}"
