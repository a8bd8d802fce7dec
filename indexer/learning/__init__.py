"""Learning from people: which snippets an answer showed, ratings from reactions and buttons,
the per-snippet rating prior and the collaborative-filtering model."""
