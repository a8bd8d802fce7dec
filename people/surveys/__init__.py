"""Pulse surveys, Slack-free: definitions, the schedule in each person's time zone, rounds with
anonymous answers, digests and their chart."""
