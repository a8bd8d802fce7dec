"""Knowledge in: loaders for every source (files, FAQs, Slack exports and threads, saved
messages), derived tags and topics, heading-aware chunking, and the idempotent pipeline that
writes snippets and their embeddings to the database and the index."""
