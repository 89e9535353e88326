"""Fake Anthropic and OpenRouter APIs: real HTTP servers on 127.0.0.1, in threads of the test process.

The app reaches them through SINATRA_ANTHROPIC_BASE_URL and SINATRA_OPENROUTER_BASE_URL, with its
real httpx clients, exactly as it would reach the providers. Each fake decides by the key it is
sent: a key the test `accept`s gets 200, one it `reject`s gets 401 (Anthropic's
`authentication_error`), one it makes `unavailable` gets 503; a key it was never told about is
rejected, as a real provider rejects a key it does not know.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Newer than the built-in table of routing.catalog (claude-opus-4-8), so a preview that names
# these proves the model list was fetched from the fake with the tenant's key.
ANTHROPIC_MODELS = [  # most recent first, as Anthropic lists them
    "claude-opus-4-9",
    "claude-sonnet-4-7",
    "claude-opus-4-8",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5-20250929",
]
OPENROUTER_MODELS = [  # (slug, created): OpenRouter's order says nothing, `created` does
    ("anthropic/claude-opus-4.8", 1_780_000_000),
    ("anthropic/claude-opus-4.9", 1_790_000_000),
    ("anthropic/claude-opus-4.9-fast", 1_791_000_000),
    ("anthropic/claude-sonnet-4.7", 1_785_000_000),
    ("anthropic/claude-haiku-4.5", 1_740_000_000),
    ("openai/gpt-5", 1_754_000_000),
    ("meta-llama/llama-3.1-405b-instruct", 1_721_000_000),
]

ACCEPT, REJECT, UNAVAILABLE, MANAGEMENT = "accept", "reject", "unavailable", "management"


class FakeProvider:
    """One provider's API on its own port; `base_url` is what the app's setting gets."""

    name = ""
    base_path = ""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.keys_seen: list[str] = []  # every key sent, in order (the provider may see keys)
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                with provider._lock:
                    provider.requests.append(("GET", path))
                status, body = provider.answer(path, self.headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args) -> None:
                pass  # quiet: the test reads `requests` instead

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"fake-{self.name}", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.base_path}"

    def accept(self, key: str) -> str:
        self.keys[key] = ACCEPT
        return key

    def reject(self, key: str) -> str:
        self.keys[key] = REJECT
        return key

    def unavailable(self, key: str) -> str:
        self.keys[key] = UNAVAILABLE
        return key

    def management(self, key: str) -> str:
        """A key the provider accepts but that only manages other keys (OpenRouter's provisioning keys)."""
        self.keys[key] = MANAGEMENT
        return key

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def verdict(self, key: str | None) -> str:
        if key is not None:
            with self._lock:
                self.keys_seen.append(key)
        return self.keys.get(key or "", REJECT)

    def answer(self, path: str, headers) -> tuple[int, dict]:
        raise NotImplementedError("subclasses of FakeProvider must provide answer()")


class FakeAnthropic(FakeProvider):
    name = "anthropic"

    def answer(self, path: str, headers) -> tuple[int, dict]:
        if path != "/v1/models":
            return 404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}
        verdict = self.verdict(headers.get("x-api-key"))
        if verdict == UNAVAILABLE:
            return 503, {"type": "error", "error": {"type": "api_error", "message": "Service unavailable"}}
        if verdict == REJECT:
            return 401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
        data = [
            {"type": "model", "id": model, "display_name": model, "created_at": "1970-01-01T00:00:00Z"}
            for model in ANTHROPIC_MODELS
        ]
        return 200, {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}


class FakeOpenRouter(FakeProvider):
    name = "openrouter"
    base_path = "/api/v1"

    def answer(self, path: str, headers) -> tuple[int, dict]:
        if path == "/api/v1/models":  # public: no key needed
            return 200, {"data": [{"id": slug, "created": created} for slug, created in OPENROUTER_MODELS]}
        if path != "/api/v1/key":
            return 404, {"error": {"code": 404, "message": "Not Found"}}
        authorization = headers.get("authorization") or ""
        verdict = self.verdict(authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None)
        if verdict == UNAVAILABLE:
            return 503, {"error": {"code": 503, "message": "Service temporarily unavailable"}}
        if verdict == REJECT:
            return 401, {"error": {"code": 401, "message": "User not found."}}
        return 200, {
            "data": {
                "label": "sk-or-v1-abc...xyz",
                "usage": 0,
                "limit": None,
                "is_free_tier": False,
                "is_provisioning_key": verdict == MANAGEMENT,
            }
        }


@contextmanager
def fake_providers() -> Iterator[tuple[FakeAnthropic, FakeOpenRouter]]:
    """Run both fakes for the duration of the block."""
    anthropic, openrouter = FakeAnthropic().start(), FakeOpenRouter().start()
    try:
        yield anthropic, openrouter
    finally:
        anthropic.stop()
        openrouter.stop()
