"""The local Slack Web API used by the tests; it lives in the product as
bot.simulated_slack.server."""

from bot.simulated_slack.server import Call, Reply
from bot.simulated_slack.server import LocalSlack as FakeSlack

__all__ = ["Call", "FakeSlack", "Reply"]
