"""Answers out: query syntax, BM25, the FAISS vectors kept in step with the database, hybrid
candidate retrieval and blending, and the ranker every surface asks."""
