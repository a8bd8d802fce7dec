"""Pulse surveys in Slack: the survey DM's buttons and comment modal, `/lepton survey`, the App
Home's survey section, and posting what the scheduler sends (invitations, reminders, digests)."""

from handlers.surveys.listeners import register

__all__ = ["register"]
