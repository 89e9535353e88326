"""A provider API that answers slowly: a real socket server on 127.0.0.1, in threads of the test process.

It answers Anthropic's GET /v1/models and OpenRouter's GET /api/v1/models, and its `mode`
decides how:
- FAST: the whole answer at once (and the connection closed);
- TRICKLE_BODY: the status line and headers at once, then the body one byte every `interval`;
- TRICKLE_HEAD: everything, the status line included, one byte every `interval`.
A trickle gives up after `give_up_after` seconds, so code that never stops reading still ends.
`client_gone` is set when the client closes a connection before the answer is complete: proof
that it really abandoned the socket.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from enum import Enum

ANTHROPIC_IDS = ["claude-opus-5-0", "claude-sonnet-5-0", "claude-haiku-5-0"]
OPENROUTER_MODELS = [("anthropic/claude-opus-5.0", 1_900_000_000), ("anthropic/claude-sonnet-5.0", 1_900_000_000)]


class Mode(Enum):
    FAST = "fast"
    TRICKLE_BODY = "trickle body"
    TRICKLE_HEAD = "trickle head"


def anthropic_body(ids: list[str]) -> bytes:
    data = [{"type": "model", "id": model_id, "created_at": "1970-01-01T00:00:00Z"} for model_id in ids]
    return json.dumps({"data": data, "has_more": False, "last_id": ids[-1] if ids else None}).encode()


def openrouter_body(models: list[tuple[str, int]]) -> bytes:
    return json.dumps({"data": [{"id": slug, "created": created} for slug, created in models]}).encode()


class SlowProvider:
    """One server; `anthropic_base_url` and `openrouter_base_url` are what the settings get."""

    def __init__(self, *, mode: Mode = Mode.TRICKLE_BODY, interval: float = 2.0, give_up_after: float = 30.0) -> None:
        self.mode = mode
        self.interval = interval
        self.give_up_after = give_up_after
        self.anthropic_ids = list(ANTHROPIC_IDS)
        self.requests = 0
        self.connected = threading.Event()  # a request has arrived
        self.client_gone = threading.Event()  # a client closed a connection mid-answer
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept, name="slow-provider", daemon=True)

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def openrouter_base_url(self) -> str:
        return f"{self.anthropic_base_url}/api/v1"

    def __enter__(self) -> SlowProvider:
        self._accept_thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._listener.close()
        self._accept_thread.join()
        for thread in self._threads:
            thread.join()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by __exit__
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _answer(self, path: str) -> bytes:
        openrouter = path.startswith("/api/v1/")
        body = openrouter_body(OPENROUTER_MODELS) if openrouter else anthropic_body(self.anthropic_ids)
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        return head + body

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1].decode()
            with self._lock:
                self.requests += 1
            self.connected.set()
            answer = self._answer(path)
            if self.mode is Mode.FAST:
                connection.sendall(answer)
                return
            at_once = answer.index(b"\r\n\r\n") + 4 if self.mode is Mode.TRICKLE_BODY else 0
            connection.sendall(answer[:at_once])
            started = time.monotonic()
            for position in range(at_once, len(answer)):
                if self._stop.wait(self.interval) or time.monotonic() - started > self.give_up_after:
                    return
                if self._closed_by_client(connection):
                    self.client_gone.set()
                    return
                try:
                    connection.sendall(answer[position : position + 1])
                except OSError:
                    self.client_gone.set()
                    return

    @staticmethod
    def _closed_by_client(connection: socket.socket) -> bool:
        readable, _, _ = select.select([connection], [], [], 0)
        if not readable:
            return False
        try:
            return connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
