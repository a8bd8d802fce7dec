"""Slack-free logic about people themselves: their personal data and what Lepton keeps of it."""
