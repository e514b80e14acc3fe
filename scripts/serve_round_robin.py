"""Text-query latency of several `viewfinder serve` builds over one index, asked in turn (a round robin).

    python scripts/serve_round_robin.py INDEX [--queries 150] [--cache NAME=DIR ...] NAME=SRC:RUNTIME [...]

Each NAME=SRC:RUNTIME starts `viewfinder serve --runtime RUNTIME` with PYTHONPATH=SRC (a checkout's src folder:
main's as the baseline, a branch's beside it). All servers run at once and get the same distinct queries one at
a time, in alternating order, so a shared machine's load falls on each alike; `bench serve` runs them one after
the other. Prints JSON: per server p50/p95/p99, the server's encode and search p50, the rest (each query's time
less its encoding), the server's CPU time (user+sys) per query, the cache-hit p50, and the load average.
Index: `viewfinder bench serve --index DIR` makes one (or bench.make_vector_index).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from viewfinder.bench.embed import NOUNS


class Server:
    def __init__(self, name: str, source: str, runtime: str, index: str, cache: str | None = None) -> None:
        self.name = name
        env = {**os.environ, "PYTHONPATH": source, "VIEWFINDER_WARM_THUMBNAILS": "0"}  # the index holds no images
        if cache:
            env["VIEWFINDER_CACHE"] = cache
        command = [sys.executable, "-m", "viewfinder", "serve", "--index", index, "--port", "0", "--device", "cpu"]
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - the server's stderr, read if it fails to start
        self.process = subprocess.Popen(
            [*command, "--runtime", runtime], stdout=subprocess.PIPE, stderr=self.log, text=True, env=env
        )
        ready = self.process.stdout.readline() if self.process.stdout else ""
        if "http://" not in ready:
            self.log.seek(0)
            raise SystemExit(f"{name} did not start: {self.log.read()[-1000:]}")
        self.host, port = ready.rsplit("http://", 1)[1].strip().rstrip("/").rsplit(":", 1)
        self.port = int(port)
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.times: list[float] = []
        self.encode: list[float] = []
        self.search: list[float] = []

    def ask(self, text: str) -> tuple[float, dict]:
        body = json.dumps({"query": text, "top_k": 50})
        for attempt in range(2):  # uvicorn closes a connection idle for 5 s, as while the others start
            try:
                began = time.perf_counter()
                self.connection.request("POST", "/search", body, {"Content-Type": "application/json"})
                response = self.connection.getresponse()
                data = response.read()
                elapsed = (time.perf_counter() - began) * 1000
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                if attempt:
                    raise
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        if response.status != 200:
            raise SystemExit(f"{self.name}: /search answered {response.status}: {data[:300]!r}")
        return elapsed, json.loads(data)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index")
    parser.add_argument("servers", nargs="+", metavar="NAME=SRC:RUNTIME")
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument(
        "--cache",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="that server's model cache (VIEWFINDER_CACHE), e.g. one whose export another version made",
    )
    args = parser.parse_args()
    caches = dict(given.split("=", 1) for given in args.cache)
    servers = []
    try:
        for given in args.servers:
            name, spec = given.split("=", 1)
            source, runtime = spec.rsplit(":", 1)
            servers.append(Server(name, source, runtime, args.index, caches.get(name)))
        for server in servers:
            server.ask("a photo of a dog")  # warm: the first query and the response cache's own path
        cpu_before = [server.cpu_seconds() for server in servers]
        loads = [os.getloadavg()[0]]
        for number in range(args.queries):
            text = f"a photo of a {NOUNS[number % len(NOUNS)]} number {number}"
            for server in servers if number % 2 == 0 else servers[::-1]:
                elapsed, answer = server.ask(text)
                server.times.append(elapsed)
                server.encode.append(answer["timings_ms"]["encode"])
                server.search.append(answer["timings_ms"]["search"])
        cpu = [
            (server.cpu_seconds() - before) * 1000 / args.queries
            for server, before in zip(servers, cpu_before, strict=True)
        ]
        hits = [[server.ask("a photo of a dog")[0] for _ in range(50)] for server in servers]
        loads.append(os.getloadavg()[0])
    finally:
        for server in servers:
            server.stop()
    rows = []
    for server, cpu_ms, hit in zip(servers, cpu, hits, strict=True):
        times, encode = np.array(server.times), np.array(server.encode)
        rows.append(
            {
                "name": server.name,
                **{f"p{q}_ms": round(float(np.percentile(times, q)), 2) for q in (50, 95, 99)},
                "encode_p50_ms": round(float(np.median(encode)), 2),
                "rest_p50_ms": round(float(np.median(times - encode)), 2),
                "search_p50_ms": round(float(np.median(server.search)), 2),
                "cpu_ms_per_query": round(cpu_ms, 2),
                "cache_hit_p50_ms": round(float(np.median(hit)), 2),
            }
        )
    print(json.dumps({"queries": args.queries, "load": [round(x, 2) for x in loads], "results": rows}, indent=1))


if __name__ == "__main__":
    main()
