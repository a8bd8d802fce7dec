"""Thin Slack adapters: one package per feature (`knowledge`, `surveys`, `training`, `commands`),
each with `register(app, services)`, the App Home that composes their sections, and the Slack
`plumbing` they share."""
