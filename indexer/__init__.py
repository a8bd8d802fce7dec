"""Knowledge in and answers out, Slack-free: `ingest` (loaders, chunking, tagging; Slack threads
arrive as plain dicts), `search` (query, BM25, vectors, hybrid, ranker), `learning` (ratings,
prior, collaborative filtering) and `insights` (usage, gaps, experts, recommendations)."""
