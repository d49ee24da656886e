"""Benchmark the server's memory through bursts of maximum-size requests (issue 16): does
`twinchat serve` give its memory back once a burst is over?

Run it by hand from the repository root (needs the dev environment: it builds the tests' tiny
Llama and trains it for a few seconds)::

    python benchmarks/server_memory.py                      # bursts of 20, 60 and 60
    python benchmarks/server_memory.py --bursts 20 --run runs/me   # a run of your own
    python benchmarks/server_memory.py --workdir /tmp/twinchat-bench-memory   # keep the run

`twinchat serve RUN --token T` runs as a child process. Each burst sends that many requests at
once, authenticated, every one as large as the server takes: half to `/v1/suggest` (200
messages of 4,000 characters, n 10, 128 new tokens), half to `/v1/chat/completions` (200
messages of 4,000 characters, n 10, max_tokens 128), each body just under the 1 MB cap. The
server queues 8 and refuses the rest with 503; a refused client comes back after Retry-After,
so every request is served in the end. The server's resident memory (RSS) is sampled every
20 ms: **idle** before the burst, **peak** during it, **after** 5 s after its last answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
MESSAGES = 200
"""The server's default cap on messages a request."""
TEXT_CHARS = 4_000
"""The server's default cap on one text."""
BODY_BYTES = 1_000_000
"""The server's default cap on a body."""
SETTLE_S = 5.0
"""Seconds after a burst's last answer at which `after` is read."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bursts", type=int, nargs="+", default=[20, 60, 60],
        help="requests sent at once in each burst, one burst after another",
    )  # fmt: skip
    parser.add_argument("--run", type=Path, help="a finished run (default: the tests' tiny Llama)")
    parser.add_argument("--workdir", type=Path, help="where the tiny run goes (default: a temp)")
    parser.add_argument("--backend", help="twinchat serve --backend")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="twinchat-bench-memory-"))
    try:
        run = args.run or tiny_run(work)
        rows = measure(run, args.bursts, args.backend)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)


def tiny_run(work: Path) -> Path:
    """The tests' tiny Llama, trained on their little chat until it knows it (once a workdir)."""
    run = work / "run"
    if (run / "twinchat.json").exists():
        return run
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import HIKE, memorize, prepare_sessions
    from tiny_models import make_tiny_llama

    (work / "hike").mkdir(parents=True, exist_ok=True)
    data = prepare_sessions(work / "hike", HIKE, 16, holdout=0.1)
    print("training the tiny Llama...", file=sys.stderr)
    return memorize(data, make_tiny_llama(work / "model"), run)


def bodies(speaker: str, seed: int = 16) -> dict[str, bytes]:
    """A maximum-size body for each route: as many messages, as long, as the caps allow, of
    chat-like words (many tokens each, unlike one repeated letter)."""
    rng = random.Random(seed)
    words = ["hello", "saturday", "snacks", "perfect", "é", "ok?", "see", "ж", "12", "hike:)"]

    def text() -> str:
        out = ""
        while len(out) < TEXT_CHARS:
            out += rng.choice(words) + " "
        return out[:TEXT_CHARS]

    def fit(make: Any) -> bytes:
        count = MESSAGES
        while len(body := json.dumps(make(count), ensure_ascii=False).encode()) > BODY_BYTES:
            count -= 1
        return body

    texts = [text() for _ in range(MESSAGES)]
    return {
        "/v1/suggest": fit(lambda k: {
            "messages": [{"sender": "Ana" if i % 2 else "Sam", "text": t}
                         for i, t in enumerate(texts[:k])],
            "as": speaker, "n": 10, "max_new_tokens": 128,
        }),
        "/v1/chat/completions": fit(lambda k: {
            "model": f"twinchat/{speaker}",
            "messages": [{"role": "user" if i % 2 else "assistant", "content": t}
                         for i, t in enumerate(texts[:k])],
            "n": 10, "max_tokens": 128,
        }),
    }  # fmt: skip


class Sampler:
    """The resident memory of a process, sampled in a thread; `peak` since the last `reset`."""

    def __init__(self, pid: int, every: float = 0.02):
        self.process = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        return self.process.memory_info().rss

    def reset(self) -> None:
        self.peak = self.rss()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.peak = max(self.peak, self.rss())
            except psutil.NoSuchProcess:
                return


def measure(run: Path, bursts: list[int], backend: str | None) -> list[dict[str, Any]]:
    """Serve `run` in a child process and send it each burst; a row of figures a burst."""
    token = secrets.token_urlsafe()
    port = _free_port()
    command = [sys.executable, "-m", "twinchat", "serve", str(run), "--port", str(port),
               "--token", token]  # fmt: skip
    if backend:
        command += ["--backend", backend]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, server)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        speaker = httpx.get(f"{base}/v1/speakers", headers=headers).json()["speakers"][0]
        payloads = bodies(speaker)
        sampler = Sampler(server.pid)
        time.sleep(2)  # the interpreter settles after the model loads
        rows = []
        try:
            for size in bursts:
                idle = sampler.rss()
                sampler.reset()
                started = time.perf_counter()
                codes = asyncio.run(_burst(base, headers, payloads, size))
                seconds = time.perf_counter() - started
                peak = sampler.peak
                time.sleep(SETTLE_S)
                after = sampler.rss()
                rows.append(dict(burst=size, idle=idle, peak=peak, after=after, codes=codes,
                                 seconds=seconds))  # fmt: skip
        finally:
            sampler.close()
        return rows
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        if server.returncode not in (0, -15, 143) and server.stderr is not None:
            sys.stderr.write(server.stderr.read().decode(errors="replace")[-2000:])


async def _burst(
    base: str, headers: dict[str, str], payloads: dict[str, bytes], size: int
) -> dict[int, int]:
    """`size` requests at once, alternating routes; a refused one comes back after Retry-After.
    How many answers of each status (503s included) came back."""
    codes: dict[int, int] = {}
    routes = list(payloads)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=600) as client:  # fmt: skip

        async def one(i: int) -> None:
            path = routes[i % len(routes)]
            while True:
                response = await client.post(path, content=payloads[path])
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
                if response.status_code != 503:
                    return
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))

        await asyncio.gather(*(one(i) for i in range(size)))
    return codes


def _wait_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(server.stderr.read().decode(errors="replace") if server.stderr else "")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not come up within 120 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def print_table(rows: list[dict[str, Any]]) -> None:
    mib = 1024 * 1024
    baseline = rows[0]["idle"] if rows else 1
    print(f"{'burst':>5}  {'idle MiB':>8}  {'peak MiB':>8}  {'after MiB':>9}  {'after/idle':>10}"
          f"  {'after/first idle':>16}  {'seconds':>7}  answers")  # fmt: skip
    for row in rows:
        codes = ", ".join(f"{n}×{code}" for code, n in sorted(row["codes"].items()))
        print(
            f"{row['burst']:>5}  {row['idle'] / mib:>8.0f}  {row['peak'] / mib:>8.0f}  "
            f"{row['after'] / mib:>9.0f}  {row['after'] / row['idle']:>10.2f}  "
            f"{row['after'] / baseline:>16.2f}  "
            f"{row['seconds']:>7.1f}  {codes}"
        )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"after = {SETTLE_S:g} s after the burst's last answer")  # fmt: skip


if __name__ == "__main__":
    main()
