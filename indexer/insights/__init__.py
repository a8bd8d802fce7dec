"""What the knowledge base tells admins and people: the question log and knowledge gaps, usage,
experts on a topic, and App Home recommendations."""
