"""A TCP proxy that lets a test cut a Cosmos DB conversation at the worst moment.

It forwards bytes between a client (a Celery worker) and the emulator (plain HTTP), watching for the
transactional batch request. ``hold="response"`` lets the batch reach the emulator (so it is applied) but
never returns the answer; ``hold="request"`` never lets it reach the emulator. Either way the client is
left waiting mid-commit, where the test can kill it. ``hold=None`` just forwards (a database that comes back).
"""

from __future__ import annotations

import contextlib
import socket
import threading

BATCH_HEADER = b"x-ms-cosmos-is-batch-request"


class FaultProxy:
    def __init__(self, upstream_port: int, hold: str | None, port: int = 0) -> None:
        assert hold in {"request", "response", None}
        self.upstream_port = upstream_port
        self.hold = hold
        self.batch_seen = threading.Event()
        self.response_held = threading.Event()
        self._server = socket.create_server(("127.0.0.1", port))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = [self._server]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            held = threading.Event()  # this connection carried the batch
            threading.Thread(target=self._pump_requests, args=(client, upstream, held), daemon=True).start()
            threading.Thread(target=self._pump_responses, args=(upstream, client, held), daemon=True).start()

    def _pump_requests(self, source: socket.socket, target: socket.socket, held: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if self.hold and BATCH_HEADER in chunk.lower():
                    held.set()
                    self.batch_seen.set()
                    if self.hold == "request":
                        return  # the batch never reaches the database
                target.sendall(chunk)

    def _pump_responses(self, source: socket.socket, target: socket.socket, held: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if held.is_set() and self.hold == "response":
                    self.response_held.set()
                    continue  # applied by the database, never heard of by the client
                target.sendall(chunk)

    def close(self) -> None:
        self._closed = True
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
