"""Answers people read: the sentences that answer a question, and the passages around them."""
