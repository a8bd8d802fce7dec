"""A simulated Slack workspace served by `LocalSlack`, for `lepton console` and the tests.

Slack is not reachable here, so the real Bolt app and slack_sdk talk to a `LocalSlack` server
and this model gives them Slack-shaped answers: channels and membership, DMs, messages and
threads, ephemerals, reactions, modals, the App Home and file shares, with Slack's error codes
(`not_in_channel`, `channel_not_found`, `user_not_found`, ...). Every method is registered with
`LocalSlack.on()`, so a test can still replace one (say, with a 429) afterwards.

The console and tests play the people: `post_user_message`, `add_reaction`, `trigger_id` and
`response_url` change or extend the state the way a person's action would, then the caller sends
the matching event or interaction to the app itself and reads the state back (`messages`,
`thread`, `ephemerals`, `modals`, `home`, `uploads`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.simulated_slack.shapes import (
    EPOCH,
    RESPONSE_URL,
    Channel,
    LocalSlackError,
    Message,
    Reaction,
    User,
    View,
    channel_json,
    completed_channels,
    completed_files,
    content,
    decoded,
    dm_id,
    flag,
    listed,
    page,
    required,
    ts_bound,
    user_json,
    utc_offset,
    view_definition,
    view_json,
)

if TYPE_CHECKING:
    from bot.simulated_slack.server import LocalSlack, Upload

MODAL_STACK_LIMIT = 3


@dataclass(frozen=True)
class _Responder:
    """Where a response_url minted by `Workspace.response_url` answers."""

    channel: str
    user: str
    message_ts: str | None


Method = Callable[[dict[str, Any]], dict[str, Any]]


class Workspace:
    """An in-memory workspace answering the Web API methods Lepton uses on `slack`."""

    def __init__(
        self,
        slack: LocalSlack,
        team_id: str = "T0LEPTON",
        team_name: str = "Acme",
        domain: str = "acme",
        bot_user_id: str = "ULEPTONBOT",
        bot_id: str = "BLEPTON",
        *,
        bot_name: str = "lepton",
        app_id: str = "ALEPTON",
    ) -> None:
        self.team_id, self.team_name, self.domain = team_id, team_name, domain
        self.bot_user_id, self.bot_id = bot_user_id, bot_id
        self.bot_name, self.app_id = bot_name, app_id
        self._lock = threading.RLock()
        self._clock = 0
        self._serial = itertools.count(1)
        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, dict[str, Message]] = {}
        self._ephemerals: dict[tuple[str, str], list[Message]] = {}
        self._modals: dict[str, list[View]] = {}
        self._homes: dict[str, View] = {}
        self._triggers: dict[str, str | None] = {}  # trigger_id -> user, None once exchanged
        self._responders: dict[str, _Responder] = {}
        self.add_user(bot_user_id, bot_name, real_name=bot_name.title(), is_bot=True, bot_id=bot_id)
        self.install(slack)

    # People and channels

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        *,
        display_name: str = "",
        tz: str = "America/New_York",
        tz_offset: int | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        email: str | None = None,
        bot_id: str | None = None,
    ) -> User:
        """Add a person (or bot); tz_offset defaults to tz's current UTC offset in seconds."""
        offset = utc_offset(tz) if tz_offset is None else tz_offset
        user = User(
            id,
            name,
            real_name or name,
            display_name=display_name,
            tz=tz,
            tz_offset=offset,
            is_admin=is_admin,
            is_owner=is_owner,
            is_bot=is_bot,
            deleted=deleted,
            email=email,
            bot_id=bot_id,
        )
        with self._lock:
            self._users[id] = user
        return user

    def add_channel(
        self,
        id: str,
        name: str,
        is_private: bool = False,
        members: Iterable[str] = (),
        bot_member: bool = True,
    ) -> Channel:
        everyone = [*members, *([self.bot_user_id] if bot_member else [])]
        channel = Channel(id, name, is_private, tuple(dict.fromkeys(everyone)))
        with self._lock:
            self._channels[id] = channel
            self._messages.setdefault(id, {})
        return channel

    def add_member(self, channel: str, user: str) -> Channel:
        with self._lock:
            found = self._resolve(channel)
            if user not in found.members:
                found = self._channels[found.id] = replace(found, members=(*found.members, user))
            return found

    def remove_member(self, channel: str, user: str) -> Channel:
        with self._lock:
            found = self._resolve(channel)
            members = tuple(member for member in found.members if member != user)
            found = self._channels[found.id] = replace(found, members=members)
            return found

    def dm_channel(self, user: str) -> str:
        """The id of the bot's DM with `user` ("D" + the user id's suffix), opened if need be."""
        with self._lock:
            return self._open_dm(user).id

    # What people do (the caller then sends the matching event to the app)

    def post_user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> Message:
        """A person writes in a channel (or DM, given a D id or their own user id)."""
        with self._lock:
            found = self._resolve(channel, user_means_dm=True)
            if user not in found.members:
                raise LocalSlackError("not_in_channel", f"{user} is not a member of {found.id}")
            return self._post(found, user, text, [], [], thread_ts)

    def add_reaction(self, channel: str, ts: str, user: str, name: str) -> Message:
        with self._lock:
            return self._react(channel, ts, user, name, add=True)

    def remove_reaction(self, channel: str, ts: str, user: str, name: str) -> Message:
        with self._lock:
            return self._react(channel, ts, user, name, add=False)

    def trigger_id(self, user: str) -> str:
        """A single-use trigger_id for an interaction by `user` (views.open needs one)."""
        with self._lock:
            trigger = f"{next(self._serial)}.{self.team_id}.local"
            self._triggers[trigger] = user
            return trigger

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url for an interaction by `user` in `channel` (on message_ts, if any).

        Posts to it become ephemerals to `user`, bot messages (`"response_type": "in_channel"`),
        or replace or delete the original (`replace_original`, `delete_original`).
        """
        with self._lock:
            key = f"R{next(self._serial):06d}"
            self._responders[key] = _Responder(self._resolve(channel).id, user, message_ts)
        return self.slack.response_url(key)

    def pop_modal(self, user: str) -> View | None:
        """The person closes the top modal (or the app answered `response_action: clear`)."""
        with self._lock:
            stack = self._modals.get(user, [])
            return stack.pop() if stack else None

    def close_modals(self, user: str) -> None:
        with self._lock:
            self._modals.pop(user, None)

    # State, for the console and tests

    def user(self, user: str) -> User:
        with self._lock:
            return self._user(user)

    def channel(self, channel: str) -> Channel:
        with self._lock:
            return self._resolve(channel)

    def messages(self, channel: str) -> list[Message]:
        """Every message in a channel or DM (a D id or the person's user id), replies included."""
        with self._lock:
            return self._ordered(self._resolve(channel, user_means_dm=True).id)

    def message(self, channel: str, ts: str) -> Message:
        with self._lock:
            return self._message(self._resolve(channel, user_means_dm=True).id, ts)

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The thread's parent, then its replies, oldest first."""
        with self._lock:
            found = self._resolve(channel, user_means_dm=True)
            try:
                parent = self._message(found.id, ts)
            except LocalSlackError:
                raise LocalSlackError("thread_not_found") from None
            root = parent.thread_ts or parent.ts
            return [m for m in self._ordered(found.id) if root in (m.ts, m.thread_ts)]

    def ephemerals(self, channel: str, user: str) -> list[Message]:
        with self._lock:
            found = self._resolve(channel, user_means_dm=True)
            return list(self._ephemerals.get((found.id, user), []))

    def modals(self, user: str) -> list[View]:
        """The person's open modals, bottom first (the last one is on screen)."""
        with self._lock:
            return list(self._modals.get(user, []))

    def home(self, user: str) -> View | None:
        with self._lock:
            return self._homes.get(user)

    def uploads(self) -> list[Upload]:
        return self.slack.uploads()

    # Web API

    def install(self, slack: LocalSlack) -> None:
        """Serve this workspace's Web API on `slack`; again after a test's `on()` overrides."""
        self.slack = slack
        methods: dict[str, Method] = {
            "auth.test": self._auth_test,
            "team.info": self._team_info,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.open": self._conversations_open,
            "conversations.join": self._conversations_join,
            "conversations.list": self._conversations_list,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.conversations": self._users_conversations,
            "reactions.get": self._reactions_get,
            "reactions.add": lambda p: self._reactions_set(p, add=True),
            "reactions.remove": lambda p: self._reactions_set(p, add=False),
            "views.open": lambda p: self._views_open(p, push=False),
            "views.push": lambda p: self._views_open(p, push=True),
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.completeUploadExternal": self._files_complete_upload,
            RESPONSE_URL: self._respond,
        }
        for name, method in methods.items():
            slack.on(name, self._api(method))

    def _api(self, method: Method) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def answer(params: dict[str, Any]) -> dict[str, Any]:
            with self._lock:
                try:
                    return {"ok": True, **method(params)}
                except LocalSlackError as error:
                    return error.body()

        return answer

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _team_info(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"team": {"id": self.team_id, "name": self.team_name, "domain": self.domain}}

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"), user_means_dm=True)
        text, blocks, attachments = content(params)
        message = self._post(
            channel, self.bot_user_id, text, blocks, attachments, params.get("thread_ts")
        )
        metadata = decoded(params, "metadata")
        if metadata is not None:
            message = self._messages[channel.id][message.ts] = replace(message, metadata=metadata)
        return {"channel": channel.id, "ts": message.ts, "message": self._json(message)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"), user_means_dm=True)
        user = self._user(required(params, "user"))
        if user.id not in channel.members:
            raise LocalSlackError("user_not_in_channel")
        text, blocks, attachments = content(params)
        message = self._ephemeral(
            channel.id, user.id, text, blocks, attachments, params.get("thread_ts")
        )
        return {"message_ts": message.ts}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"))
        old = self._message(channel.id, required(params, "ts"))
        if old.user != self.bot_user_id:
            raise LocalSlackError("cant_update_message")
        text, blocks, attachments = content(params, partial=True)
        new = replace(
            old,
            text=old.text if text is None else text,
            blocks=old.blocks if blocks is None else blocks,
            attachments=old.attachments if attachments is None else attachments,
            edited=True,
        )
        self._messages[channel.id][old.ts] = new
        return {"channel": channel.id, "ts": new.ts, "text": new.text, "message": self._json(new)}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"))
        message = self._message(channel.id, required(params, "ts"))
        if message.user != self.bot_user_id:
            raise LocalSlackError("cant_delete_message")
        del self._messages[channel.id][message.ts]
        return {"channel": channel.id, "ts": message.ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        message = self._message(channel.id, required(params, "message_ts"))
        link = (
            f"https://{self.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        )
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        info = channel_json(channel, self.team_id, self.bot_user_id)
        if flag(params, "include_num_members"):
            info["num_members"] = len(channel.members)
        return {"channel": info}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        members, cursor = page(list(channel.members), params, default_limit=100)
        return {"members": members, "response_metadata": {"next_cursor": cursor}}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"))
        oldest = ts_bound(params, "oldest", Decimal(0))
        latest = ts_bound(params, "latest", Decimal("Infinity"))
        inclusive = flag(params, "inclusive")
        in_range = [
            m
            for m in reversed(self._ordered(channel.id))
            if m.thread_ts is None
            and (
                oldest <= Decimal(m.ts) <= latest if inclusive else oldest < Decimal(m.ts) < latest
            )
        ]
        messages, cursor = page(in_range, params, default_limit=100)
        with_metadata = flag(params, "include_all_metadata")
        return {
            "messages": [self._json(m, with_metadata=with_metadata) for m in messages],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"))
        thread = self.thread(channel.id, required(params, "ts"))
        messages, cursor = page(thread, params, default_limit=1000)
        with_metadata = flag(params, "include_all_metadata")
        return {
            "messages": [self._json(m, with_metadata=with_metadata) for m in messages],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            channel = self._bot_channel(params["channel"])
            already = True
        else:
            users = listed(required(params, "users"))
            if len(users) != 1:
                raise LocalSlackError(
                    "invalid_arguments", "[ERROR] the local workspace opens 1:1 DMs only"
                )
            already = dm_id(self._user(users[0]).id) in self._channels
            channel = self._open_dm(users[0])
        shown = (
            channel_json(channel, self.team_id, self.bot_user_id)
            if flag(params, "return_im")
            else {"id": channel.id}
        )
        return {"no_op": already, "already_open": already, "channel": shown}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        if channel.is_private or channel.is_im:
            raise LocalSlackError("method_not_supported_for_channel_type")
        joined = self.add_member(channel.id, self.bot_user_id)
        warning = {"warning": "already_in_channel"} if channel == joined else {}
        return {"channel": channel_json(joined, self.team_id, self.bot_user_id), **warning}

    def _conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = listed(params.get("types") or "public_channel")
        visible = [c for c in self._channels.values() if self._listed(c, types)]
        channels, cursor = page(visible, params, default_limit=100)
        return {
            "channels": [channel_json(c, self.team_id, self.bot_user_id) for c in channels],
            "response_metadata": {"next_cursor": cursor},
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": user_json(self._user(required(params, "user")), self.team_id)}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        users, cursor = page(list(self._users.values()), params, default_limit=0)
        return {
            "members": [user_json(u, self.team_id) for u in users],
            "cache_ts": EPOCH,
            "response_metadata": {"next_cursor": cursor},
        }

    def _users_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        """Slack's rule: the user's public channels, and private ones the bot shares with them."""
        user = self._user(params.get("user") or self.bot_user_id).id
        types = listed(params.get("types") or "public_channel")
        mine = [c for c in self._channels.values() if self._listed(c, types) and user in c.members]
        channels, cursor = page(mine, params, default_limit=100)
        return {
            "channels": [channel_json(c, self.team_id, self.bot_user_id) for c in channels],
            "response_metadata": {"next_cursor": cursor},
        }

    def _reactions_get(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"))
        message = self._message(channel.id, required(params, "timestamp"))
        return {"type": "message", "channel": channel.id, "message": self._json(message)}

    def _reactions_set(self, params: dict[str, Any], *, add: bool) -> dict[str, Any]:
        channel = self._bot_channel(params.get("channel"))
        timestamp, name = required(params, "timestamp"), required(params, "name")
        self._react(channel.id, timestamp, self.bot_user_id, name, add=add)
        return {}

    def _views_open(self, params: dict[str, Any], *, push: bool) -> dict[str, Any]:
        trigger = params.get("trigger_id") or params.get("interactivity_pointer")
        if not trigger:
            raise LocalSlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        if trigger not in self._triggers:
            raise LocalSlackError("invalid_trigger_id")
        user = self._triggers[trigger]
        if user is None:
            raise LocalSlackError("exchanged_trigger_id")
        definition = view_definition(params, "modal")
        stack = self._modals.setdefault(user, []) if push else []
        if len(stack) >= MODAL_STACK_LIMIT:
            raise LocalSlackError("push_limit_reached")
        self._triggers[trigger] = None
        view_id = self._next_id("V")
        root = stack[0].view["root_view_id"] if stack else view_id
        view = self._view(user, definition, view_id, root, stack[-1].id if stack else None)
        self._modals[user] = [*stack, view]
        return {"view": view.view}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise LocalSlackError("invalid_arguments", "[ERROR] view_id or external_id required")
        for stack in self._modals.values():
            for index, old in enumerate(stack):
                if old.id != view_id and (
                    not external_id or old.view["external_id"] != external_id
                ):
                    continue
                if params.get("hash") and params["hash"] != old.hash:
                    raise LocalSlackError("hash_conflict")
                stack[index] = self._view(
                    old.user,
                    view_definition(params, "modal"),
                    old.id,
                    old.view["root_view_id"],
                    old.view["previous_view_id"],
                )
                return {"view": stack[index].view}
        raise LocalSlackError("not_found")

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(required(params, "user_id")).id
        definition = view_definition(params, "home")
        old = self._homes.get(user)
        if old and params.get("hash") and params["hash"] != old.hash:
            raise LocalSlackError("hash_conflict")
        view_id = old.id if old else self._next_id("V")
        self._homes[user] = self._view(user, definition, view_id, view_id, None)
        return {"view": self._homes[user].view}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """Share the uploaded files; each channel gets a bot message carrying them, as in Slack."""
        channels = [self._bot_channel(c) for c in completed_channels(params)]
        files = completed_files(params)
        comment, thread_ts = params.get("initial_comment"), params.get("thread_ts")
        shared = self.slack.share_uploads(
            [f["id"] for f in files],
            [c.id for c in channels],
            comment,
            thread_ts,
            titles={f["id"]: f.get("title") for f in files},
        )
        ids = tuple(upload.file_id for upload in shared)
        for channel in channels:
            self._post(channel, self.bot_user_id, comment or "", [], [], thread_ts, files=ids)
        return {"files": [upload.as_file() for upload in shared]}

    def _respond(self, params: dict[str, Any]) -> dict[str, Any]:
        """A POST to a response_url; keys this workspace did not mint are only recorded."""
        responder = self._responders.get(params.get("_key", ""))
        if responder is None:
            return {}
        channel = self._channels[responder.channel]
        mine = self._ephemerals.setdefault((channel.id, responder.user), [])
        original = responder.message_ts
        if flag(params, "delete_original"):
            mine[:] = [m for m in mine if m.ts != original]
            self._messages[channel.id].pop(original or "", None)
            return {}
        text, blocks, attachments = content(params)
        if flag(params, "replace_original") and original:
            if original in self._messages[channel.id]:
                old = self._messages[channel.id][original]
                self._messages[channel.id][original] = replace(
                    old, text=text, blocks=blocks, attachments=attachments, edited=True
                )
            else:
                mine[:] = [
                    replace(m, text=text, blocks=blocks, attachments=attachments)
                    if m.ts == original
                    else m
                    for m in mine
                ]
        elif params.get("response_type") == "in_channel":
            self._post(
                channel, self.bot_user_id, text, blocks, attachments, params.get("thread_ts")
            )
        else:
            self._ephemeral(
                channel.id, responder.user, text, blocks, attachments, params.get("thread_ts")
            )
        return {}

    # Model internals (callers hold the lock)

    def _next_ts(self) -> str:
        self._clock += 100
        seconds, micros = divmod(self._clock, 1_000_000)
        return f"{EPOCH + seconds}.{micros:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._serial):09d}"

    def _next_hash(self) -> str:
        return f"{EPOCH}.{next(self._serial):08x}"

    def _view(
        self,
        user: str,
        definition: dict[str, Any],
        view_id: str,
        root_view_id: str,
        previous_view_id: str | None,
    ) -> View:
        shown = view_json(
            definition,
            view_id=view_id,
            hash=self._next_hash(),
            root_view_id=root_view_id,
            previous_view_id=previous_view_id,
            team_id=self.team_id,
            app_id=self.app_id,
            bot_id=self.bot_id,
        )
        return View(view_id, user, shown)

    def _user(self, user: str) -> User:
        if user not in self._users:
            raise LocalSlackError("user_not_found")
        return self._users[user]

    def _open_dm(self, user: str) -> Channel:
        person = self._user(user)
        channel_id = dm_id(person.id)
        if channel_id not in self._channels:
            members = tuple(dict.fromkeys((person.id, self.bot_user_id)))
            self._channels[channel_id] = Channel(
                channel_id, "", True, members, is_im=True, user=person.id
            )
            self._messages[channel_id] = {}
        return self._channels[channel_id]

    def _resolve(self, ref: Any, *, user_means_dm: bool = False) -> Channel:
        """A channel by id or name (#name); a user id, or an unopened D id, means that DM."""
        if not ref or not isinstance(ref, str):
            raise LocalSlackError("channel_not_found")
        if ref in self._channels:
            return self._channels[ref]
        for channel in self._channels.values():
            if not channel.is_im and channel.name == ref.removeprefix("#"):
                return channel
        if ref in self._users and user_means_dm:
            return self._open_dm(ref)
        for user in self._users:
            if ref.startswith("D") and dm_id(user) == ref:
                return self._open_dm(user)
        raise LocalSlackError("channel_not_found")

    def _visible_channel(self, ref: Any) -> Channel:
        """What the bot may look at: public channels, and those it is a member of."""
        channel = self._resolve(ref)
        if channel.is_private and self.bot_user_id not in channel.members:
            raise LocalSlackError("channel_not_found")
        return channel

    def _bot_channel(self, ref: Any, *, user_means_dm: bool = False) -> Channel:
        """A channel the bot is in; else not_in_channel (public) or channel_not_found."""
        channel = self._resolve(ref, user_means_dm=user_means_dm)
        if self.bot_user_id not in channel.members:
            raise LocalSlackError("channel_not_found" if channel.is_private else "not_in_channel")
        return channel

    def _listed(self, channel: Channel, types: list[str]) -> bool:
        """Whether the bot's listings of `types` show `channel`: public ones, and its own."""
        kind = (
            "im" if channel.is_im else "private_channel" if channel.is_private else "public_channel"
        )
        return kind in types and (not channel.is_private or self.bot_user_id in channel.members)

    def _message(self, channel: str, ts: str) -> Message:
        message = self._messages.get(channel, {}).get(ts)
        if message is None:
            raise LocalSlackError("message_not_found")
        return message

    def _ordered(self, channel: str) -> list[Message]:
        return sorted(self._messages.get(channel, {}).values(), key=lambda m: Decimal(m.ts))

    def _post(
        self,
        channel: Channel,
        user: str,
        text: str,
        blocks: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
        thread_ts: str | None,
        *,
        files: tuple[str, ...] = (),
    ) -> Message:
        if thread_ts:
            parent = self._messages[channel.id].get(thread_ts)
            if parent is None:
                raise LocalSlackError("invalid_thread_ts")
            thread_ts = parent.thread_ts or parent.ts
        message = self._compose(channel.id, user, text, blocks, attachments, thread_ts, files)
        self._messages[channel.id][message.ts] = message
        return message

    def _ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
        thread_ts: str | None,
    ) -> Message:
        message = self._compose(channel, self.bot_user_id, text, blocks, attachments, thread_ts)
        self._ephemerals.setdefault((channel, user), []).append(message)
        return message

    def _compose(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
        thread_ts: str | None,
        files: tuple[str, ...] = (),
    ) -> Message:
        """A new message with the next ts; the bot's messages carry its bot_id."""
        bot_id = self.bot_id if user == self.bot_user_id else None
        return Message(
            channel,
            self._next_ts(),
            user,
            text,
            blocks,
            attachments,
            thread_ts or None,
            bot_id=bot_id,
            files=files,
        )

    def _react(self, channel: str, ts: str, user: str, name: str, *, add: bool) -> Message:
        found = self._resolve(channel, user_means_dm=True)
        message = self._message(found.id, ts)
        name = name.strip(":")
        reactions = {r.name: r.users for r in message.reactions}
        users = reactions.get(name, ())
        if add and user in users:
            raise LocalSlackError("already_reacted")
        if not add and user not in users:
            raise LocalSlackError("no_reaction")
        reactions[name] = (*users, user) if add else tuple(u for u in users if u != user)
        updated = replace(
            message, reactions=tuple(Reaction(n, us) for n, us in reactions.items() if us)
        )
        self._messages[found.id][ts] = updated
        return updated

    # Slack's JSON shapes

    def _json(self, message: Message, *, with_metadata: bool = False) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "type": "message",
            "ts": message.ts,
            "user": message.user,
            "text": message.text,
            "team": self.team_id,
        }
        if message.bot_id:
            shown |= {"bot_id": message.bot_id, "app_id": self.app_id}
        if message.blocks:
            shown["blocks"] = message.blocks
        if message.attachments:
            shown["attachments"] = message.attachments
        if message.files:
            uploads = {u.file_id: u for u in self.slack.uploads()}
            shown["files"] = [uploads[f].as_file() for f in message.files if f in uploads]
        if with_metadata and message.metadata:
            shown["metadata"] = message.metadata
        if message.edited:
            shown["edited"] = {"user": message.user, "ts": message.ts}
        if message.thread_ts:
            parent = self._messages[message.channel].get(message.thread_ts)
            shown["thread_ts"] = message.thread_ts
            shown["parent_user_id"] = parent.user if parent else None
        replies = [m for m in self._ordered(message.channel) if m.thread_ts == message.ts]
        if replies:
            shown |= {
                "thread_ts": message.ts,
                "reply_count": len(replies),
                "reply_users": list(dict.fromkeys(m.user for m in replies)),
                "latest_reply": replies[-1].ts,
            }
        if message.reactions:
            shown["reactions"] = [
                {"name": r.name, "users": list(r.users), "count": r.count}
                for r in message.reactions
            ]
        return shown
