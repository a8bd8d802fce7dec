"""The HR side of Lepton, Slack-free: pulse surveys, training, the outbox that sends each
scheduled message once, privacy requests (forget-me) and the audit trail."""
