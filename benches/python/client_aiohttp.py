"""N HTTP GETs, K in flight, a Python step after each: aiohttp's client.

    python client_aiohttp.py <url> <requests> <in_flight>

Prints: requests that succeeded, seconds.
"""
import asyncio
import itertools
import sys
import time

import aiohttp


async def main(url, total, in_flight):
    started = itertools.count()
    ok = []

    async def worker(session):
        while next(started) < total:
            async with session.get(url) as resp:
                body = await resp.read()
                if resp.status == 200 and body:
                    ok.append(1)

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(in_flight)))
        return len(ok), time.perf_counter() - t0


if __name__ == "__main__":
    n, secs = asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    print(n, secs)
