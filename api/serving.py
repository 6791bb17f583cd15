"""How the API's HTTP server speaks TCP.

Give uvicorn `--http api.serving:NoDelayHttpToolsProtocol` wherever it serves an app (devstack and the bench do).
httptools parses HTTP in C; the pure-Python h11 parser's work is most of a small poll's cost.

asyncio turns Nagle's algorithm off only on sockets it recognises as TCP, and the listening socket that uvicorn's
`--workers` supervisor binds and hands to its processes is not recognised (its protocol number is left at 0:
uvicorn issue #3149). Each small response then waits for the client's delayed acknowledgement on a kept-alive
connection. Setting TCP_NODELAY on every accepted connection makes the server behave the same however it was
started.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
