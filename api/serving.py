"""How the API's HTTP server speaks TCP.

Give uvicorn `--http api.serving:NoDelayH11Protocol` wherever it serves an app. asyncio turns Nagle's algorithm
off only on sockets it recognises as TCP, and the listening socket that uvicorn's `--workers` supervisor binds
and hands to its processes is not recognised (its protocol number is left at 0: uvicorn issue #3149). Each small
response then waits for the client's delayed acknowledgement, about 40 ms per request on a kept-alive connection:
measured on the bench's bare endpoint, two processes served 690 requests/s instead of 3,600. Setting
TCP_NODELAY on every accepted connection makes the server behave the same however it was started.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
