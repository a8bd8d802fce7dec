"""A local stand-in for the Slack Web API, so tests drive the real slack_sdk over real HTTP.

with FakeSlack() as fake:
    fake.on("auth.test", {"ok": True, "team_id": "T1", "url": "https://acme.slack.com/"})
    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    client.auth_test()
    assert fake.calls_to("auth.test") == [{}]
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit


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


Handler = Callable[[dict[str, Any]], "dict[str, Any] | Reply"]


class FakeSlack:
    """Answers /api/<method> from registered handlers; unregistered methods get {"ok": true}."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._handlers: dict[str, Handler] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every call so far, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Params of each call to one method (token excluded; it is in the headers)."""
        return [call.params for call in self.calls if call.method == method]

    def on(self, method: str, handler: Handler | dict[str, Any] | Reply) -> None:
        """Answer `method` with handler(params), or always with the given body or Reply."""
        if callable(handler):
            self._handlers[method] = handler
        else:
            self._handlers[method] = lambda _params: handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
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
            handler = self._handlers.get(method)
        if handler is None:
            return Reply()
        try:
            answer = handler(params)
        except Exception:
            return Reply(500, body={"ok": False, "error": traceback.format_exc()})
        return answer if isinstance(answer, Reply) else Reply(body=answer)


def _request_handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._handle(self.rfile.read(length))

        def _handle(self, body: bytes) -> None:
            url = urlsplit(self.path)
            if not url.path.startswith("/api/"):
                self._send(Reply(404, body={"ok": False, "error": "unknown_path"}))
                return
            params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
            content_type = self.headers.get("Content-Type") or ""
            if body and content_type.startswith("application/json"):
                params.update(json.loads(body))
            elif body:
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
            params.pop("token", None)
            method = url.path.removeprefix("/api/")
            self._send(fake._answer(method, params, dict(self.headers.items())))

        def _send(self, reply: Reply) -> None:
            payload = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest output should show test failures, not access logs."""

    return _Handler
