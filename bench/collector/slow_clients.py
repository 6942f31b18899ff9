"""Holds N connections to a collector open the way a slowloris attack does.

Each connection sends a request head one byte a second; when the collector cuts it (its head
timeout), it reconnects at once, so N connections stay held for the whole run. Prints, on
exit (SIGTERM or SIGINT), how many connections were opened and how many the collector cut.

    python3 slow_clients.py HOST PORT N
"""

import asyncio
import signal
import sys

opened = 0
cut = 0


async def hold(host: str, port: int) -> None:
    global opened, cut
    head = f"POST /collect HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\n\r\n".encode()
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        opened += 1
        try:
            for i in range(len(head)):
                writer.write(head[i : i + 1])
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1024), timeout=1.0) == b"":
                        break
                except asyncio.TimeoutError:
                    pass
        except OSError:
            pass
        cut += 1
        writer.close()


async def main() -> None:
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(hold(host, port)) for _ in range(n)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    print(f"slow clients: {opened} connections opened, {cut} cut by the collector", flush=True)


asyncio.run(main())
