"""A local stand-in for Slack's HTTP endpoints, so the real slack_sdk and Bolt code runs here.

Slack is not reachable from where Lepton is developed and tested, so both `lepton console` and
the test suite drive the real app against this server: point `WebClient(base_url=...)` at
`LocalSlack().base_url` and every Web API call arrives as real HTTP. It also serves the two
other URLs Slack hands out, `response_url`s and the files v2 upload URLs.

By itself it answers every method with `{"ok": true}` (uploads aside) and records each call;
register answers with `on()`. `Workspace` (from bot.simulated_slack.workspace, re-exported here
with its records) registers a whole simulated workspace on top: users, channels, messages, modals.

    with LocalSlack() as slack:
        slack.on("auth.test", {"ok": True, "team_id": "T1", "url": "https://acme.slack.com/"})
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.auth_test()
        assert slack.calls_to("auth.test") == [{}]
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.simulated_slack.shapes import (
    RESPONSE_URL,
    Channel,
    LocalSlackError,
    Message,
    Reaction,
    User,
    View,
    completed_channels,
    completed_files,
)
from bot.simulated_slack.workspace import Workspace

__all__ = [
    "RESPONSE_URL",
    "UPLOAD",
    "Call",
    "Channel",
    "LocalSlack",
    "LocalSlackError",
    "Message",
    "Reaction",
    "Reply",
    "Upload",
    "User",
    "View",
    "Workspace",
]

UPLOAD = "upload"
"""The pseudo-method under which file bytes POSTed to an upload URL are recorded."""


@dataclass(frozen=True)
class Reply:
    """A full HTTP answer, for errors such as 429 with Retry-After."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Upload:
    """One file of the files v2 flow: announced, then its bytes, then shared (or not yet)."""

    file_id: str
    filename: str
    title: str | None = None
    length: int | None = None
    data: bytes | None = None
    completed: bool = False
    channels: tuple[str, ...] = ()
    initial_comment: str | None = None
    thread_ts: str | None = None

    def as_file(self) -> dict[str, Any]:
        """The Slack file object that files.completeUploadExternal answers with."""
        return {
            "id": self.file_id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": len(self.data or b""),
            "channels": list(self.channels),
            "url_private": f"https://files.slack.com/files-pri/{self.file_id}/{self.filename}",
        }


Handler = Callable[[dict[str, Any]], "dict[str, Any] | Reply"]


class LocalSlack:
    """Answers /api/<method> from registered handlers; unregistered methods get {"ok": true}.

    Also: POST /respond/<key> (see `response_url`) and POST /upload/<file_id> (the URL that
    files.getUploadURLExternal hands out). Every request is recorded as a `Call`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._uploads: dict[str, Upload] = {}
        self._file_ids = itertools.count(1)
        self._handlers: dict[str, Handler] = {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        self._by_token: dict[str, dict[str, Handler]] = {}
        self._response_tokens: dict[str, str] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    def response_url(self, key: str) -> str:
        """A response_url; POSTs to it reach the handler registered as on("response_url")."""
        return f"{self.origin}/respond/{key}"

    def upload_url(self, file_id: str) -> str:
        return f"{self.origin}/upload/{file_id}"

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every call so far, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Params of each call to one method (token excluded; it is in the headers)."""
        return [call.params for call in self.calls if call.method == method]

    def on(
        self, method: str, handler: Handler | dict[str, Any] | Reply, *, token: str | None = None
    ) -> None:
        """Answer `method` with handler(params), or always with the given body or Reply; with
        `token`, only calls made with that bot token (one of several workspaces)."""
        answer = handler if callable(handler) else (lambda _params: handler)
        with self._lock:
            if token is None:
                self._handlers[method] = answer
            else:
                self._by_token.setdefault(token, {})[method] = answer

    def route_responses(self, prefix: str, token: str) -> None:
        """response_url keys starting `prefix-` belong to the workspace of `token` (a
        response_url carries no token of its own)."""
        with self._lock:
            self._response_tokens[prefix] = token

    def handler(self, method: str) -> Handler | None:
        """What answers `method` now, so a test can wrap it (say, fail after it ran)."""
        with self._lock:
            return self._handlers.get(method)

    def uploads(self) -> list[Upload]:
        """Every file announced through files.getUploadURLExternal, in order."""
        with self._lock:
            return list(self._uploads.values())

    def share_uploads(
        self,
        file_ids: Iterable[str],
        channels: Iterable[str] = (),
        initial_comment: str | None = None,
        thread_ts: str | None = None,
        titles: Mapping[str, str | None] | None = None,
    ) -> list[Upload]:
        """Complete uploads whose bytes arrived; else raise LocalSlackError("file_not_found")."""
        ids, titles = list(file_ids), titles or {}
        with self._lock:
            if not ids:
                raise LocalSlackError("invalid_arguments")
            if any(i not in self._uploads or self._uploads[i].data is None for i in ids):
                raise LocalSlackError("file_not_found")
            for file_id in ids:
                upload = self._uploads[file_id]
                self._uploads[file_id] = replace(
                    upload,
                    title=titles.get(file_id) or upload.title,
                    completed=True,
                    channels=tuple(channels),
                    initial_comment=initial_comment,
                    thread_ts=thread_ts,
                )
            return [self._uploads[i] for i in ids]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalSlack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _answer(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self._calls.append(Call(method, params, headers))
            token = bearer_token(headers)
            if token is None and method == RESPONSE_URL:
                prefix = str(params.get("_key", "")).partition("-")[0]
                token = self._response_tokens.get(prefix)
            tenant = self._by_token.get(token or "", {})
            handler = tenant.get(method) or self._handlers.get(method)
        if handler is None:
            return Reply()
        try:
            answer = handler(params)
        except Exception:
            return Reply(500, body={"ok": False, "error": traceback.format_exc()})
        return answer if isinstance(answer, Reply) else Reply(body=answer)

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            file_id = f"F{next(self._file_ids):09d}"
            self._uploads[file_id] = Upload(
                file_id, str(params["filename"]), length=int(params["length"])
            )
        return {"ok": True, "file_id": file_id, "upload_url": self.upload_url(file_id)}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = completed_files(params)
        try:
            shared = self.share_uploads(
                [f["id"] for f in files],
                completed_channels(params),
                params.get("initial_comment"),
                params.get("thread_ts"),
                titles={f["id"]: f.get("title") for f in files},
            )
        except LocalSlackError as error:
            return {"ok": False, "error": error.code}
        return {"ok": True, "files": [upload.as_file() for upload in shared]}

    def _receive_upload(self, file_id: str, data: bytes, headers: dict[str, str]) -> bool:
        """Record the POST of a file's bytes and store them; False for an unknown file."""
        with self._lock:
            self._calls.append(Call(UPLOAD, {"_file_id": file_id, "size": len(data)}, headers))
            upload = self._uploads.get(file_id)
            if upload is not None:
                self._uploads[file_id] = replace(upload, data=data)
            return upload is not None


def bearer_token(headers: dict[str, str]) -> str | None:
    """The token a Web API call was made with (slack_sdk sends it as a Bearer header)."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    return value.removeprefix("Bearer ") or None


def _multipart_file(content_type: str, body: bytes) -> bytes:
    """The first file part (or else the first part) of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts = [part for part in message.iter_parts() if not part.is_multipart()]
    chosen = next((part for part in parts if part.get_filename()), parts[0] if parts else None)
    payload = chosen.get_payload(decode=True) if chosen is not None else None
    return payload if isinstance(payload, bytes) else b""


def _request_handler(slack: LocalSlack) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._handle(self.rfile.read(length))

        def _handle(self, body: bytes) -> None:
            url = urlsplit(self.path)
            headers = dict(self.headers.items())
            content_type = self.headers.get("Content-Type") or ""
            route, _, rest = url.path.lstrip("/").partition("/")
            if route == "api":
                params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
                if body and content_type.startswith("application/json"):
                    params.update(json.loads(body))
                elif body:
                    params.update(parse_qsl(body.decode(), keep_blank_values=True))
                params.pop("token", None)
                self._send(slack._answer(rest, params, headers))
            elif route == "respond":
                params = {**_json_or_form(body), "_key": rest}
                self._send(slack._answer(RESPONSE_URL, params, headers))
            elif route == "upload":
                if content_type.startswith("multipart/form-data"):
                    body = _multipart_file(content_type, body)
                if slack._receive_upload(rest, body, headers):
                    self._send(Reply(), plain=f"OK - {len(body)}")
                else:
                    self._send(Reply(404, body={"ok": False, "error": "file_not_found"}))
            else:
                self._send(Reply(404, body={"ok": False, "error": "unknown_path"}))

        def _send(self, reply: Reply, plain: str | None = None) -> None:
            payload = (plain if plain is not None else json.dumps(reply.body)).encode()
            kind = "text/plain" if plain is not None else "application/json"
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client stopped waiting (its timeout): nobody left to answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest output should show test failures, not access logs."""

    return _Handler


def _json_or_form(body: bytes) -> dict[str, Any]:
    """A response_url body: JSON as Slack expects, or a form with a JSON `payload` field."""
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        return json.loads(form["payload"]) if "payload" in form else form
    return parsed if isinstance(parsed, dict) else {}
