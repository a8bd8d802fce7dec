"""files.completeUploadExternal: sharing uploaded files posts them, as in Slack."""

from __future__ import annotations

from typing import Any

from bot.simulated_slack.shapes import completed_channels, completed_files
from bot.simulated_slack.state import Content, Method, WorkspaceState


class FilesApi:
    """The end of the files v2 flow; `LocalSlack` keeps the uploads themselves."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state

    def methods(self) -> dict[str, Method]:
        return {"files.completeUploadExternal": self.complete_upload}

    def complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """Share the uploaded files; each channel gets a bot message carrying them, as in Slack."""
        state = self.state
        channels = [state.bot_channel(c) for c in completed_channels(params)]
        files = completed_files(params)
        comment, thread_ts = params.get("initial_comment"), params.get("thread_ts")
        shared = state.slack.share_uploads(
            [f["id"] for f in files],
            [c.id for c in channels],
            comment,
            thread_ts,
            titles={f["id"]: f.get("title") for f in files},
        )
        ids = tuple(upload.file_id for upload in shared)
        said = Content(comment or "", [], [])
        for channel in channels:
            state.post(channel, state.team.bot_user_id, said, thread_ts, files=ids)
        return {"files": [upload.as_file() for upload in shared]}
