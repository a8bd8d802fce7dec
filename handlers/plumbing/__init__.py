"""Slack plumbing every feature shares: posting exactly once, event once-ness, the listener
boilerplate (ack, who pressed a button, answering them), payload checks, channel membership, the
people directory, the database guard, the last-resort error handler, and the Block Kit
primitives (escaping included)."""
