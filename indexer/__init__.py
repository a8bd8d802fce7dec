"""Knowledge in and answers out: loaders, chunking, embeddings, FAISS and ranking. No Slack here."""
