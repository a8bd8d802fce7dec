"""A simulated Slack workspace and Web API on loopback, with requests signed as Slack signs them,
for the console and the tests. Nothing that serves real Slack imports it."""
