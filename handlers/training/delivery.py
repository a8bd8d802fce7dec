"""The Slack side of training messages Lepton starts itself: nudge DMs and the weekly
completion digest (see `people.training.schedule.training_tick`)."""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient

from handlers.plumbing.sending import ChannelNames, dm_channel, post_once, upload_once
from handlers.training.blocks import (
    nudge_blocks,
    nudge_text,
    training_digest_blocks,
    training_digest_text,
)
from models import Nudge, TrainingDigestPost
from people.outbox import Delivered, Skip
from people.training.assignments import Training
from people.training.chart import completion_chart_png
from people.training.schedule import still_wanted


class SlackTrainingCouriers:
    """Built for one scheduler run at `now`, so "still wanted" uses the run's clock."""

    def __init__(
        self, client: WebClient, training: Training, channels: ChannelNames, now: datetime
    ) -> None:
        self.client, self.training, self.channels, self.now = client, training, channels, now

    def nudge(self, row: Nudge, retry: bool) -> Delivered:
        wanted = still_wanted(self.training, row, self.now)
        if wanted is None:
            raise Skip("done, snoozed or unassigned")
        mine = self.training.progress(row.user_id, self.now)
        others = sum(1 for v in mine if v.completed_at is None) - 1
        url = next((v.url for v in mine if v.assignment_id == row.assignment_id), None)
        return post_once(
            self.client,
            dm_channel(self.client, row.user_id),
            f"training-nudge:{row.id}",
            retry,
            text=nudge_text(wanted, self.now),
            blocks=nudge_blocks(wanted, url, row.kind, max(others, 0), self.now),
        )

    def digest(self, post: TrainingDigestPost, retry: bool) -> Delivered:
        return self.channels.deliver(
            post.channel, lambda channel: self._digest_part(post, channel, retry)
        )

    def _digest_part(self, post: TrainingDigestPost, channel: str, retry: bool) -> Delivered:
        report = self.training.completion_report(self.now)
        if post.part == "summary":
            return post_once(
                self.client,
                channel,
                f"training-digest:{post.id}",
                retry,
                text=training_digest_text(report, post.week),
                blocks=training_digest_blocks(report, post.week),
            )
        chart = completion_chart_png(report)
        if chart is None:
            raise Skip("nothing assigned")
        return upload_once(
            self.client,
            channel,
            f"training-{post.week}-{post.id}.png",
            retry,
            data=chart,
            title=f"Training completion, week {post.week}",
        )
