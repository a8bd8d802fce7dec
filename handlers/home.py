"""The App Home tab: a greeting, then the sections each feature registered (knowledge, training,
surveys), in the order the features were registered."""

from __future__ import annotations

from slack_sdk import WebClient

from handlers.plumbing.blocks import Block, section
from handlers.plumbing.services import Services, Viewer

GREETING = "Ask me anything with `/lepton find <question>`, mention me in a channel, or DM me."


def publish_home(services: Services, client: WebClient, user_id: str, team_id: str | None) -> None:
    viewer = Viewer(user_id, team_id, client)
    parts = [block for part in services.home_sections.values() for block in part(services, viewer)]
    client.views_publish(user_id=user_id, view=home_view(parts))


def home_view(parts: list[Block]) -> Block:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Lepton"}},
        section(GREETING),
        {"type": "divider"},
        *parts,
    ]
    return {"type": "home", "blocks": blocks}
