"""Serving the Bolt app: over HTTP (waitress, a production WSGI server with a thread pool, so a
slow listener never blocks Slack's next request) or over Socket Mode."""

from __future__ import annotations

import gc
import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import BaseWSGIServer, MultiSocketServer

from bot import request_shape
from bot.app import build_app
from bot.services import Services
from bot.signing import fresh, signed

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
THREADS = 8
MAX_BODY = 1024 * 1024
"""Slack's requests are a few kilobytes; a larger body is refused (413) by waitress from its
Content-Length, before any of it is read."""

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_app(app: App, signing_secret: str) -> WSGIApp:
    """Slack's routes (events, and install/redirect under OAuth) plus a health check for the
    platform's router; anything else is a 404. Every POST must carry Slack's signature and a
    fresh timestamp before anything reads it (401 otherwise; Bolt checks again); a signed POST
    Bolt could not read (see `bot.request_shape`) is answered 400 and logged as a warning, not a
    500 and a traceback."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if environ.get("REQUEST_METHOD") == "POST":
            timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
            if not fresh(timestamp, environ.get("HTTP_X_SLACK_SIGNATURE")):
                start_response("401 Unauthorized", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"invalid signature\n"]
            raw = environ["wsgi.input"].read(min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY))
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))
            if not signed(
                signing_secret,
                raw,
                environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                environ.get("HTTP_X_SLACK_SIGNATURE"),
            ):
                start_response("401 Unauthorized", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"invalid signature\n"]
            if wrong := request_shape.problem(raw, environ.get("CONTENT_TYPE")):
                log.warning("malformed request to %s: %s", environ.get("PATH_INFO"), wrong)
                start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"malformed request\n"]
        return slack(environ, start_response)

    return application


def http_server(
    services: Services, host: str, port: int, *, freeze: bool = False
) -> BaseWSGIServer | MultiSocketServer:
    """Ready to answer before it listens: the model, index and feedback are loaded first (and,
    with `freeze`, frozen out of the collector's scans) before the port opens."""
    services.warm_up()
    app = build_app(services)
    services.settings.require("serve", "SLACK_SIGNING_SECRET")
    if freeze:
        freeze_what_is_loaded()
    secret = services.settings.slack_signing_secret
    return waitress.create_server(
        wsgi_app(app, secret.get_secret_value() if secret else ""),
        host=host,
        port=port,
        threads=THREADS,
        ident="lepton",
        max_request_body_size=MAX_BODY,
    )


def freeze_what_is_loaded() -> None:
    """Only in a process that now serves until it exits: what is loaded by then lives as long
    as the process, so it is frozen out of the garbage collector's scans (full collections over
    the half a million objects of the model and indexes paused every thread, acks included, for
    up to 480 ms, bench/http_burst.py). Freezing at every app boot instead kept each earlier
    app's garbage alive in a process that builds many, such as the test run."""
    gc.collect()
    gc.freeze()


def serve_http(services: Services, host: str, port: int) -> None:
    server = http_server(services, host, port, freeze=True)
    log.info("Lepton is listening on http://%s:%s%s", host, port, EVENTS_PATH)
    server.run()


def socket_handler(services: Services) -> SocketModeHandler:
    """Ready to answer before it connects: the model, index and feedback are loaded first.
    `connect()` opens the WebSocket and returns; `start()` also blocks, as `serve_socket` does."""
    settings = services.settings
    assert settings.slack_app_token is not None
    services.warm_up()
    app = build_app(services, socket_mode=True)
    return SocketModeHandler(app, settings.slack_app_token.get_secret_value())


def serve_socket(services: Services) -> None:
    handler = socket_handler(services)
    freeze_what_is_loaded()
    log.info("Lepton is connecting over Socket Mode")
    handler.start()
