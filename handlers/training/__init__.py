"""Training in Slack: nudges with Done / Snooze / Open, Enrol on suggestions, `/lepton train`,
the App Home's training section, and posting nudges and the weekly digest."""

from handlers.training.listeners import register

__all__ = ["register"]
