"""The Slack side of surveys that Lepton starts itself: posting invitations, reminders and
digests (see `people.surveys.rounds.Surveys.tick`)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.plumbing.blocks import section
from handlers.plumbing.sending import (
    ChannelNames,
    dm_channel,
    post_once,
    slack_outcomes,
    upload_once,
)
from handlers.surveys.blocks import (
    CLOSED_DM,
    invitation_blocks,
    invitation_text,
    notice_text,
    reminder_text,
)
from handlers.surveys.digest_blocks import digest_blocks, digest_fallback_text
from models import SurveyDelivery, SurveyDigestPost, SurveyNotice, SurveyReminder
from people.outbox import Delivered, Skip
from people.surveys.chart import trend_chart_png
from people.surveys.rounds import Couriers, Surveys


class SlackSurveyCouriers:
    def __init__(
        self,
        client: WebClient,
        surveys: Surveys,
        channels: ChannelNames,
        admins: Sequence[str] = (),
    ) -> None:
        self.client, self.surveys, self.channels = client, surveys, channels
        self.admins = admins

    def couriers(self) -> Couriers:
        return Couriers(
            invitation=self.invite,
            reminder=self.remind,
            digest=self.post_digest,
            notice=self.notify,
            retire=self.retire,
        )

    def notify(self, notice: SurveyNotice, retry: bool) -> Delivered:
        """A DM to each of the workspace's listed admins; with none, the survey's digest
        channels, where its managers read. Each copy is looked for before it is sent again."""
        info = self.surveys.round(notice.round_id)
        definition = self.surveys.definition(info.survey_key)
        text = notice_text(definition, info, notice.reason)
        key = f"survey-notice:{notice.id}"
        if self.admins:
            sent = [
                post_once(self.client, dm_channel(self.client, admin), key, retry, text=text)
                for admin in self.admins
            ]
            return sent[0]
        if not definition.digest_channels:
            raise Skip("no admins listed and no digest channels to tell")
        sent = [
            self.channels.deliver(ref, lambda c: post_once(self.client, c, key, retry, text=text))
            for ref in definition.digest_channels
        ]
        return sent[0]

    def retire(self, channel: str, ts: str) -> None:
        """The same words in everyone's DM once the round is closed, answered or not."""
        with slack_outcomes():
            self.client.chat_update(
                channel=channel, ts=ts, text=CLOSED_DM, blocks=[section(CLOSED_DM)]
            )

    def invite(self, delivery: SurveyDelivery, retry: bool) -> Delivered:
        if self.surveys.answers.opted_out(delivery.user_id):
            raise Skip("opted out")
        invitation = self.surveys.answers.invitation(delivery)
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
        if not self.surveys.reminders.should_remind(reminder):
            raise Skip("answered, opted out or closed")
        delivery = self.surveys.reminders.delivery_of(reminder)
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
        return self.channels.deliver(
            post.channel, lambda channel: self._post_digest_part(post, channel, retry)
        )

    def _post_digest_part(self, post: SurveyDigestPost, channel: str, retry: bool) -> Delivered:
        definition, digest = self.surveys.results.digest_of_round(post.round_id)
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
