"""`lepton console`: a terminal "Slack" that drives the real Bolt app against the simulated
workspace, and renders what Lepton posts as text."""
