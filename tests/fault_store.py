"""A DynamoDB endpoint that misbehaves on demand: an HTTP proxy in front of a real store.

While healthy it forwards every request to the store unchanged. On demand it
answers like a throttled DynamoDB (HTTP 400 with the JSON error type boto3
classifies as throttling), stalls each request past any client read timeout,
stops listening so that connections are refused, as with a store that is down, or
lets a request reach the store and then drops the connection before the answer, as a
network does that fails after a write succeeded. Throttles and dropped answers may be
limited to some operations (`PutItem`, `UpdateItem`...) and to a number of requests.
The port never changes, so whatever was pointed at it keeps working once the
fault is healed.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

THROTTLING_ERRORS = ("ProvisionedThroughputExceededException", "ThrottlingException")
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
# `send_response` writes its own.
_SET_BY_PROXY = {"date", "server"}


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True
    # Rebinding the same port right after `refuse()` closed it.
    allow_reuse_address = True

    def __init__(self, port: int, store: FaultyStore) -> None:
        self.store = store
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle on, each answer on a kept-alive
    # connection would wait for the client's delayed ACK, some 40 ms.
    disable_nagle_algorithm = True
    server: _Proxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        store = self.server.store
        store.requests_seen += 1
        operation = self.headers.get("x-amz-target", "").rpartition(".")[2]
        refusing, throttle_with, stall_s, drop_answer = store.current_fault(operation)
        if refusing:
            # A connection kept alive from before the store went down dies with it.
            self.close_connection = True
        elif throttle_with is not None:
            self._answer_error(throttle_with)
        elif stall_s:
            # Held until healed (at most stall_s), then dropped unanswered: the client
            # has given up by then, and a late answer would only hide that.
            store.healed.wait(stall_s)
            self.close_connection = True
        elif drop_answer:
            # The store has done the work; its answer is lost on the way back.
            self._exchange(body)
            store.answers_dropped += 1
            self.close_connection = True
        else:
            self._forward(body)

    def _answer_error(self, error_type: str) -> None:
        payload = json.dumps(
            {"__type": _ERROR_PREFIX + error_type, "message": "Rate of requests exceeds the limit"}
        ).encode()
        self.send_response(400)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-requestid", "FAULTYSTORE0000000000000000000000000000000000000")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _exchange(self, body: bytes) -> tuple[http.client.HTTPResponse, bytes]:
        upstream = urlsplit(self.server.store.upstream)
        assert upstream.hostname is not None
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request("POST", self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response, response.read()
        finally:
            connection.close()

    def _forward(self, body: bytes) -> None:
        response, payload = self._exchange(body)
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP | _SET_BY_PROXY:
                self.send_header(key, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the tests report what matters."""


class FaultyStore:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = 0
        self.requests_seen = 0
        self.healed = threading.Event()
        self.healed.set()
        self._lock = threading.Lock()
        self.answers_dropped = 0
        self._throttle_with: str | None = None
        self._throttles_left: int | None = None
        self._throttled_operations: frozenset[str] | None = None
        self._drops_left: int | None = 0
        self._dropped_operations: frozenset[str] | None = None
        self._stall_s = 0.0
        self._server: _Proxy | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def current_fault(self, operation: str = "") -> tuple[bool, str | None, float, bool]:
        """For a request of `operation`: whether it refuses, the throttling error it answers,
        how long it stalls, and whether it drops the store's answer."""
        with self._lock:
            throttle_with = self._throttle_with
            if _chosen(operation, self._throttled_operations) and throttle_with is not None:
                if self._throttles_left is not None:
                    self._throttles_left -= 1
                    if self._throttles_left <= 0:
                        self._throttle_with = self._throttles_left = None
            else:
                throttle_with = None
            drop = _chosen(operation, self._dropped_operations) and self._drops_left != 0
            if drop and self._drops_left is not None:
                self._drops_left -= 1
            return self._server is None, throttle_with, self._stall_s, drop

    def start(self) -> FaultyStore:
        server = _Proxy(self.port, self)
        with self._lock:
            self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.healed.set()
        self._close()

    def throttle(
        self,
        error_type: str,
        requests: int | None = None,
        operations: tuple[str, ...] | None = None,
    ) -> None:
        """Answer the DynamoDB error `error_type` (a throttling one, such as those of
        THROTTLING_ERRORS) to every request, or to the next `requests` only; with
        `operations`, only to requests of those."""
        with self._lock:
            self._throttle_with = error_type
            self._throttles_left = requests
            self._throttled_operations = None if operations is None else frozenset(operations)
        self.healed.clear()

    def drop_answers(
        self, requests: int | None = None, operations: tuple[str, ...] | None = None
    ) -> None:
        """Let requests (the next `requests`; of `operations` only, when given) reach the
        store, then close their connections before the answer."""
        with self._lock:
            self._drops_left = requests
            self._dropped_operations = None if operations is None else frozenset(operations)
        self.healed.clear()

    def stall(self, seconds: float) -> None:
        with self._lock:
            self._stall_s = seconds
        self.healed.clear()

    def refuse(self) -> None:
        """Stop listening: every new connection is refused, as by a store that is down."""
        self.healed.clear()
        self._close()

    def _close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def heal(self, upstream: str | None = None) -> None:
        """End every fault; `upstream` points at a store restarted on another port."""
        with self._lock:
            self._throttle_with = self._throttles_left = self._throttled_operations = None
            self._drops_left, self._dropped_operations = 0, None
            self._stall_s = 0.0
            if upstream is not None:
                self.upstream = upstream
        self.healed.set()
        if self._server is None:
            self.start()

    def __enter__(self) -> FaultyStore:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _chosen(operation: str, operations: frozenset[str] | None) -> bool:
    return operations is None or operation in operations
