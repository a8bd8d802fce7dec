"""Slack plumbing every feature shares: posting exactly once, event once-ness, who pressed a
button, payload checks, channel membership, the people directory, the database guard, the
last-resort error handler, and the Block Kit primitives (escaping included)."""
