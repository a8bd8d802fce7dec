"""`/lepton ...`: the text parsed into one command (`parser`, shared by every feature and the
console), then routed to the feature that runs it (`lepton.register`)."""
