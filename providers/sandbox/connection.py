"""Dropping a client connection with a TCP RST, for the ``reset`` fault.

A Flask view cannot close its own socket, so the view only flags the request
(``RESET_FLAG`` in the WSGI environ) and this middleware, which sits outside
Flask, does the dirty work before any byte of the answer is written.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

RESET_FLAG = "sandbox.reset_connection"


def reset_socket(sock: socket.socket) -> None:
    """Close the TCP connection abortively (RST, no FIN) under the server's feet.

    SO_LINGER with a zero timeout makes the kernel send RST on close. The server
    still holds the socket object, so instead of closing its descriptor (which
    another thread could reuse) we ``dup2`` a dead socketpair end over it: that
    releases the TCP socket, and the server then just reads EOF and writes into
    a broken pipe, both of which it treats as a client that went away.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    dead_end, peer = socket.socketpair()
    peer.close()
    try:
        os.dup2(dead_end.fileno(), sock.fileno())
    finally:
        dead_end.close()


class ConnectionResetMiddleware:
    """WSGI wrapper that honours ``RESET_FLAG`` set by a view or hook."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started: list[tuple] = []

        def deferred_start_response(status, headers, exc_info=None):
            started.append((status, headers, exc_info))
            return lambda data: None  # Flask never uses the legacy write() callable

        body = self.app(environ, deferred_start_response)
        if environ.get(RESET_FLAG):
            if hasattr(body, "close"):
                body.close()
            sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
            if sock is not None:
                reset_socket(sock)
            # Servers treat ConnectionResetError as "client went away" and write nothing.
            raise ConnectionResetError(errno.ECONNRESET, "sandbox fault: connection reset")
        status, headers, exc_info = started[0]
        start_response(status, headers, exc_info)
        return body
