"""Training, Slack-free: the catalog and learning paths, assignments with prerequisites,
suggestions, when to nudge, and the completion digest's chart."""
