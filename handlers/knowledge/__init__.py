"""Knowledge in Slack: answers to `/lepton find`, mentions and DMs (or for the asker alone, until
they share them), ratings from reactions and buttons, "Save to Lepton" and `/lepton add`, and
live channel history for ingest."""

from __future__ import annotations

from slack_bolt import App

from handlers.knowledge import buttons, events, saving, sharing
from handlers.knowledge.home import knowledge_section
from handlers.plumbing.services import Wiring


def register(app: App, services: Wiring) -> None:
    services.home_sections["knowledge"] = knowledge_section
    for surface in (events, buttons, saving, sharing):
        surface.register(app, services)
