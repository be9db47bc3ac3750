#!/usr/bin/env python3
"""A TCP proxy on loopback that makes the server behind it slower by a fixed delay.

usage: bench/delay_proxy.py UPSTREAM_PORT DELAY_MS [--port-file FILE]

Listens on 127.0.0.1 on a free port (written to FILE, or printed), and forwards
every connection to 127.0.0.1:UPSTREAM_PORT. Each chunk from the client reaches
the server DELAY_MS after it arrived, in order: every request (HTTP keep-alive
or not) is answered DELAY_MS later, as if the server took that much longer,
while throughput is not capped (chunks in flight overlap their delays).
Answers flow back at once. Loopback only: it refuses any other upstream.
"""
import argparse
import asyncio
import time


async def pipe_delayed(reader, writer, delay_s):
    """Forward reader to writer, each chunk `delay_s` after it arrived."""
    queue: asyncio.Queue = asyncio.Queue()

    async def pump():
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic(), data))
            if not data:
                return

    task = asyncio.ensure_future(pump())
    try:
        while True:
            arrived, data = await queue.get()
            wait = arrived + delay_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        task.cancel()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream_port", type=int)
    ap.add_argument("delay_ms", type=float)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    delay_s = args.delay_ms / 1000.0

    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", args.upstream_port)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(
                pipe_delayed(client_r, server_w, delay_s),
                pipe(server_r, client_w),
                return_exceptions=True,
            )
        finally:
            client_w.close()
            server_w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    else:
        print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
