"""The Slack side of surveys that Lepton starts itself: who is in a survey's audience, and
posting invitations, reminders and digests (see `people.surveys.Surveys.tick`)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.slack_sending import ChannelNames, dm_channel, post_once, slack_outcomes, upload_once
from handlers.survey_blocks import invitation_blocks, invitation_text, reminder_text
from handlers.survey_digest_blocks import digest_blocks, digest_fallback_text
from models import SurveyDelivery, SurveyDigestPost, SurveyReminder
from people.outbox import Delivered, RetryLater, Skip
from people.survey_chart import trend_chart_png
from people.survey_definitions import SurveyDefinition
from people.surveys import Couriers, Member, Surveys

SLACKBOT = "USLACKBOT"


class SlackDirectory:
    """Audiences from `users.list` (one paginated pass gives everyone's time zone) and
    `conversations.members`."""

    def __init__(self, client: WebClient, channels: ChannelNames) -> None:
        self.client, self.channels = client, channels

    def audience(self, definition: SurveyDefinition) -> list[Member]:
        with slack_outcomes():
            people = {
                u["id"]: u
                for page in self.client.users_list(limit=200)
                for u in page.get("members", [])
                if not (u.get("deleted") or u.get("is_bot") or u["id"] == SLACKBOT)
            }
            if not definition.channels:
                return [Member(uid, u.get("tz")) for uid, u in people.items()]
            members: list[Member] = []
            for ref in definition.channels:
                segment = ref.removeprefix("#") if definition.segment_by_channel else None
                for page in self.client.conversations_members(
                    channel=self.channels.id(ref), limit=200
                ):
                    members += [
                        Member(uid, people[uid].get("tz"), segment)
                        for uid in page.get("members", [])
                        if uid in people
                    ]
            return members


class SlackSurveyCouriers:
    def __init__(self, client: WebClient, surveys: Surveys) -> None:
        self.client, self.surveys = client, surveys
        self.channels = ChannelNames(client)

    def directory(self) -> SlackDirectory:
        return SlackDirectory(self.client, self.channels)

    def couriers(self) -> Couriers:
        return Couriers(invitation=self.invite, reminder=self.remind, digest=self.post_digest)

    def invite(self, delivery: SurveyDelivery, retry: bool) -> Delivered:
        if self.surveys.opted_out(delivery.user_id):
            raise Skip("opted out")
        invitation = self.surveys.invitation(delivery)
        if not invitation.round.open:
            raise Skip("round closed")
        return post_once(
            self.client,
            dm_channel(self.client, delivery.user_id),
            f"survey-invitation:{delivery.id}",
            retry,
            text=invitation_text(invitation.definition),
            blocks=invitation_blocks(invitation.definition, invitation.round, invitation.token),
        )

    def remind(self, reminder: SurveyReminder, retry: bool) -> Delivered:
        if not self.surveys.should_remind(reminder):
            raise Skip("answered, opted out or closed")
        delivery = self.surveys.delivery_of(reminder)
        info = self.surveys.round(reminder.round_id)
        definition = self.surveys.definition(info.survey_key)
        permalink = self._permalink(delivery)
        return post_once(
            self.client,
            dm_channel(self.client, reminder.user_id),
            f"survey-reminder:{reminder.id}",
            retry,
            text=reminder_text(definition, info, permalink),
        )

    def post_digest(self, post: SurveyDigestPost, retry: bool) -> Delivered:
        channel = self.channels.id(post.channel)
        try:
            return self._post_digest_part(post, channel, retry)
        except RetryLater as error:
            if error.reason != "not_in_channel":
                raise
            self.channels.join(channel)
            return self._post_digest_part(post, channel, retry)

    def _post_digest_part(self, post: SurveyDigestPost, channel: str, retry: bool) -> Delivered:
        definition, digest = self.surveys.digest_of_round(post.round_id)
        if post.part == "summary":
            return post_once(
                self.client,
                channel,
                f"survey-digest:{post.id}",
                retry,
                text=digest_fallback_text(digest),
                blocks=digest_blocks(digest, definition),
            )
        chart = trend_chart_png(digest, definition)
        if chart is None:
            raise Skip("nothing to chart")
        return upload_once(
            self.client,
            channel,
            f"{definition.key}-round-{digest.round_number}-trend-{post.id}.png",
            retry,
            data=chart,
            title=f"{definition.title}: trend up to round {digest.round_number}",
        )

    def _permalink(self, delivery: SurveyDelivery | None) -> str | None:
        if delivery is None or not delivery.channel_id or not delivery.message_ts:
            return None
        try:
            found = self.client.chat_getPermalink(
                channel=delivery.channel_id, message_ts=delivery.message_ts
            )
        except SlackApiError:
            return None
        return str(found.get("permalink") or "") or None
