"""Thin Slack adapters: one module per surface, each with `register(app, services)`."""
