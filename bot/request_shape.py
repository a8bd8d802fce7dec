"""What a request to /slack/events must look like before Bolt reads it.

Bolt parses the body before it checks the signature, and reads its parts assuming Slack's
types (`event` an object, `authorizations` a list of objects, `user` an id or an object, ...).
A body that is not UTF-8, not JSON, not a form, or has another type in one of those places
makes Bolt raise, which reaches Slack as a 500 with a traceback in the log. Slack never sends
such a body; this names what is wrong with one, so it can be answered 400 instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.kwargs_injection.utils import build_required_kwargs
from slack_bolt.logger.messages import warning_unhandled_request
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import parse_body

Check = Callable[[Any], bool]
log = logging.getLogger(__name__)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_object_or_null(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _is_id_or_object(value: Any) -> bool:
    return value is None or isinstance(value, str | dict)


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_list_of_objects(value: Any) -> bool:
    return value is None or (
        isinstance(value, list) and all(isinstance(item, dict) for item in value)
    )


def _is_some_objects(value: Any) -> bool:
    """Bolt reads `actions[0]` once it knows a payload is a button press."""
    return value is None or (bool(value) and _is_list_of_objects(value))


SHAPES: dict[str, Check] = {
    "event": _is_object,
    "item": _is_object_or_null,
    "container": _is_object_or_null,
    "view": _is_object_or_null,
    "message": _is_object_or_null,
    "previous_message": _is_object_or_null,
    "state": _is_object_or_null,
    "values": _is_object_or_null,
    "authorizations": _is_list_of_objects,
    "actions": _is_some_objects,
    "response_urls": _is_list_of_objects,
    "team": _is_id_or_object,
    "user": _is_id_or_object,
    "channel": _is_id_or_object,
    "enterprise": _is_id_or_object,
    "type": _is_text,
    "action_id": _is_text,
    "callback_id": _is_text,
    "command": _is_text,
}
"""Slack's type for a key wherever it appears. Null stands for a missing part, which Bolt and
the handlers allow, except for `event`: Bolt reads `body.get("event", {})`."""

REQUIRED: dict[str, tuple[tuple[str | int, ...], ...]] = {
    "event_callback": (("event", "type"),),
    "block_actions": (("actions", 0, "action_id"),),
    "shortcut": (("callback_id",),),
    "message_action": (("callback_id",),),
    "view_submission": (("view", "callback_id"),),
    "view_closed": (("view", "callback_id"),),
    "block_suggestion": (("action_id",),),
}
"""Text Bolt's listener matchers index without checking, by payload type."""


def problem(raw: bytes, content_type: str | None) -> str | None:
    """What makes this body unreadable as a Slack request, or None when Bolt can read it."""
    try:
        text = raw.decode("utf-8")
        body = parse_body(text, (content_type or "").split(";")[0] or None)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError included
        return f"unreadable body: {error}"
    if not isinstance(body, dict):
        return "the body is not an object"
    if wrong := _misshapen(body) or _incomplete(body):
        return wrong
    # Bolt's own steps before any listener or error handler runs: the request's context, the
    # arguments it builds for listeners (a `view_submission` whose view has no `type` fails in
    # there), and the warning it logs for a request no listener takes (it reads `view.type` of
    # a null view). Running them keeps this check in step with the Bolt version installed.
    try:
        request = BoltRequest(body=body, mode="socket_mode")
        build_required_kwargs(logger=log, required_arg_names=[], request=request, response=None)
        warning_unhandled_request(request)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as error:
        return f"unexpected shape: {error!r}"
    return None


def _misshapen(node: Any, path: str = "") -> str | None:
    if isinstance(node, list):
        items: Any = ((f"{path}[{i}]", None, v) for i, v in enumerate(node))
    elif isinstance(node, dict):
        items = ((f"{path}.{k}" if path else str(k), k, v) for k, v in node.items())
    else:
        return None
    for where, key, value in items:
        check = SHAPES.get(key) if isinstance(key, str) else None
        if check is not None and not check(value):
            return f"`{where}` has the wrong type ({type(value).__name__})"
        if found := _misshapen(value, where):
            return found
    return None


def _incomplete(body: dict[str, Any]) -> str | None:
    for path in REQUIRED.get(str(body.get("type")), ()):
        node: Any = body
        for step in path:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if not isinstance(node, str):
            return f"`{'.'.join(map(str, path))}` is missing"
    return None
