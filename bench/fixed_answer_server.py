"""The floor of an HTTP round trip on this machine: a minimal asyncio server answering every
request with the same small JSON body, closing when asked to. Prints its port; stops when its
stdin closes."""

import asyncio
import sys

BODY = b'{"status":"ok","service":"baseline"}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class FixedAnswer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(ANSWER)
            if b"connection: close" in head.lower():
                self.transport.close()
                return


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FixedAnswer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
