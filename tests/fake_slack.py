"""The local Slack Web API used by the tests; it lives in the product as bot.local_slack."""

from bot.local_slack import Call, Reply
from bot.local_slack import LocalSlack as FakeSlack

__all__ = ["Call", "FakeSlack", "Reply"]
