"""Real-time path: HTTP frame latency, concurrent WebSocket streams, and the micro-batched
analyzer against a naive per-frame loop, measured in one run.

It starts uvicorn on ``emotionhub.asgi`` (embedded defaults: a scratch SQLite database and
the in-memory channel layer, or ``DATABASE_URL``/``REDIS_URL`` when set) with the
real-time models preloaded, then measures, with one 640x480 JPEG holding one real face
(tests/data/photos/obama.jpg on a grey background):

(a) ``POST /api/v1/analyze``: sequential single frames, end-to-end latency p50/p95/p99;
(b) N concurrent ``/api/v1/stream`` WebSockets (default 1, 4 and 8) each sending F fps
    (15) for T seconds (20): per-stream delivered fps, latency p50/p95 (frame sent to its
    answer received), dropped frames and the batch sizes the micro-batcher formed;
(c) after the server stopped, in this process: the same frame decoded and analysed by a
    naive loop (one ``analyze_frames`` call per frame) and in micro-batches of N frames,
    with the throughput ratio.

Prints a table, then one JSON line. Usage::

    python bench/realtime.py                      # 1, 4, 8 streams at 15 fps for 20 s
    python bench/realtime.py --streams 1,8 --seconds 10 --http-frames 30
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "photos" / "obama.jpg"
ANALYZER = "facial_emotion"


def webcam_frame(size=(640, 480)) -> bytes:
    with Image.open(PHOTO) as portrait:
        portrait = portrait.convert("RGB")
        portrait.thumbnail(size)
        canvas = Image.new("RGB", size, (128, 128, 128))
        canvas.paste(portrait, ((size[0] - portrait.width) // 2, (size[1] - portrait.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the server ------------------------------------------------------------------------------
class Server:
    """uvicorn on a free port with a scratch var dir and an API key without limits."""

    def __init__(self, threads: int) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="emotionhub-realtime-bench-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "emotionhub.settings.local",
            "DEBUG": "false",
            "EMOTIONHUB_VAR_DIR": self.dir.name,
            "EMOTIONHUB_ANALYZERS": ANALYZER,
            "EMOTIONHUB_REALTIME_PRELOAD": "true",
            "EMOTIONHUB_REALTIME_TORCH_THREADS": str(threads),
            "EMOTIONHUB_RATE_LIMIT_PER_MINUTE": "0",
            "EMOTIONHUB_DAILY_ITEM_QUOTA": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start(self) -> str:
        self.manage("migrate", "--no-input", "-v", "0")
        key = (
            self.manage(
                "create_api_key",
                "bench",
                "--name",
                "bench",
                "--scopes",
                "read,submit",
                "--purpose",
                "customer_feedback",
            )
            .strip()
            .splitlines()[-1]
        )
        self.log = open(Path(self.dir.name) / "uvicorn.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "emotionhub.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
                "--no-access-log",
                "--ws-max-size",
                str(16 << 20),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 300  # preloading the models takes a while on a busy CPU
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"uvicorn exited; see {self.log.name}")
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=2).status_code in (200, 503):
                    return key
            except requests.RequestException:
                time.sleep(0.5)
        raise SystemExit("uvicorn did not answer within 300 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.dir.cleanup()


# ---- (a) HTTP -----------------------------------------------------------------------------
def bench_http(url: str, key: str, frame: bytes, count: int) -> dict:
    session = requests.Session()
    session.headers.update({"Authorization": f"Api-Key {key}", "Content-Type": "image/jpeg"})
    latencies, inference, server_total, faces = [], [], [], set()
    for index in range(count + 3):
        started = time.perf_counter()
        response = session.post(f"{url}/api/v1/analyze", data=frame, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        if index < 3:
            continue  # warm-up: connection, allocator, first-use paths
        body = response.json()
        latencies.append(elapsed)
        inference.append(body["inference_ms"])
        server_total.append(body["total_ms"])
        faces.add(body["results"][0]["payload"]["face_count"])
    return {
        "frames": count,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "server_inference_p50_ms": percentile(inference, 50),
        "server_total_p50_ms": percentile(server_total, 50),
        "faces_per_frame": sorted(faces),
    }


# ---- (b) streams --------------------------------------------------------------------------
async def one_stream(url: str, key: str, frame: bytes, fps: float, seconds: float) -> dict:
    from websockets.asyncio.client import connect

    sent_at: list[float] = []
    latencies: list[float] = []
    server_latencies: list[float] = []
    batch_sizes: collections.Counter[int] = collections.Counter()
    stats = {"answers": 0, "errors": 0, "dropped": 0, "last_seq": 0}
    ws_url = url.replace("http://", "ws://") + "/api/v1/stream"
    async with connect(
        ws_url, additional_headers={"Authorization": f"Api-Key {key}"}, max_size=None
    ) as ws:
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready", ready

        async def receive() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "error":
                    stats["errors"] += 1
                    continue
                seq = message["seq"]
                latencies.append((time.perf_counter() - sent_at[seq - 1]) * 1000)
                server_latencies.append(message["latency_ms"])
                batch_sizes[message["batch_size"]] += 1
                stats["answers"] += 1
                stats["dropped"] += message["dropped"]
                stats["last_seq"] = seq

        receiver = asyncio.create_task(receive())
        period = 1.0 / fps
        start = time.perf_counter()
        while (now := time.perf_counter()) - start < seconds:
            sent_at.append(now)
            await ws.send(frame)
            await asyncio.sleep(max(0.0, start + len(sent_at) * period - time.perf_counter()))
        # The last answer (or its drop) arrives within one analysis.
        deadline = time.perf_counter() + 10
        while stats["last_seq"] < len(sent_at) and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        receiver.cancel()
    sent = len(sent_at)
    return {
        "sent": sent,
        "answered": stats["answers"],
        "dropped": stats["dropped"],
        "unanswered": sent - stats["answers"] - stats["dropped"] - stats["errors"],
        "errors": stats["errors"],
        "delivered_fps": round(stats["answers"] / seconds, 2),
        "latencies": latencies,
        "server_latencies": server_latencies,
        "batch_sizes": batch_sizes,
    }


async def bench_streams(url: str, key: str, frame: bytes, n: int, fps: float, seconds: float):
    runs = await asyncio.gather(*(one_stream(url, key, frame, fps, seconds) for _ in range(n)))
    latencies = [value for run in runs for value in run["latencies"]]
    server = [value for run in runs for value in run["server_latencies"]]
    answers_by_size: collections.Counter[int] = collections.Counter()
    for run in runs:
        answers_by_size.update(run["batch_sizes"])
    # A batch of k frames gives k answers (one per stream frame).
    batches = {size: round(count / size) for size, count in sorted(answers_by_size.items())}
    return {
        "streams": n,
        "fps_target": fps,
        "seconds": seconds,
        "delivered_fps_per_stream": [run["delivered_fps"] for run in runs],
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "server_p95_ms": percentile(server, 95),
        "sent": sum(run["sent"] for run in runs),
        "answered": sum(run["answered"] for run in runs),
        "dropped": sum(run["dropped"] for run in runs),
        "unanswered": sum(run["unanswered"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "batches_by_size": batches,
        "mean_batch_size": round(
            sum(s * c for s, c in batches.items()) / max(1, sum(batches.values())), 2
        ),
    }


# ---- (c) naive loop vs micro-batches ------------------------------------------------------------
def bench_naive(frame: bytes, frames: int, batch: int, threads: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emotionhub.settings.local")
    import django

    django.setup()
    import torch
    from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer

    from emotionhub.analyzers.contract import Frame
    from emotionhub.realtime.frames import decode_frame

    torch.set_num_threads(threads)
    from django.conf import settings

    options = settings.EMOTIONHUB_REALTIME_ANALYZER_SETTINGS.get(ANALYZER, {})
    analyzer = FacialEmotionAnalyzer()
    analyzer.load("cuda" if torch.cuda.is_available() else "cpu")

    def as_frame(index: int) -> Frame:
        return Frame(str(index), decode_frame(frame).image, options)

    analyzer.analyze_frames([as_frame(0)] * batch)  # warm-up both shapes
    started = time.perf_counter()
    for index in range(frames):
        analyzer.analyze_frames([as_frame(index)])
    naive_s = time.perf_counter() - started
    started = time.perf_counter()
    for first in range(0, frames, batch):
        analyzer.analyze_frames([as_frame(i) for i in range(first, min(frames, first + batch))])
    batched_s = time.perf_counter() - started
    return {
        "frames": frames,
        "batch": batch,
        "device": analyzer.device,
        "naive_fps": round(frames / naive_s, 2),
        "naive_ms_per_frame": round(naive_s * 1000 / frames, 1),
        "batched_fps": round(frames / batched_s, 2),
        "ratio": round(naive_s / batched_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="1,4,8", help="comma list of concurrent streams")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--http-frames", type=int, default=50)
    parser.add_argument("--naive-frames", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (server, naive)")
    args = parser.parse_args()
    streams = [int(n) for n in args.streams.split(",") if n.strip()]
    frame = webcam_frame()
    load = os.getloadavg()[0]

    server = Server(args.threads)
    try:
        key = server.start()
        http = bench_http(server.url, key, frame, args.http_frames)
        print(
            f"(a) POST /analyze, {args.http_frames} sequential 640x480 frames: p50 "
            f"{http['p50_ms']} ms, p95 {http['p95_ms']} ms, p99 {http['p99_ms']} ms "
            f"(server: inference p50 {http['server_inference_p50_ms']} ms, total p50 "
            f"{http['server_total_p50_ms']} ms)"
        )
        stream_runs = []
        for n in streams:
            run = asyncio.run(bench_streams(server.url, key, frame, n, args.fps, args.seconds))
            stream_runs.append(run)
            print(
                f"(b) {n} stream(s) at {args.fps:g} fps for {args.seconds:g} s: delivered fps "
                f"per stream {run['delivered_fps_per_stream']}, p50 {run['p50_ms']} ms, p95 "
                f"{run['p95_ms']} ms (server-side p95 {run['server_p95_ms']} ms), dropped "
                f"{run['dropped']}/{run['sent']}, unanswered {run['unanswered']}, errors "
                f"{run['errors']}, batches {run['batches_by_size']}"
            )
    finally:
        server.stop()
    naive = bench_naive(frame, args.naive_frames, max(streams), args.threads)
    print(
        f"(c) naive loop {naive['naive_fps']} frames/s ({naive['naive_ms_per_frame']} ms each) "
        f"vs micro-batches of {naive['batch']}: {naive['batched_fps']} frames/s, ratio "
        f"{naive['ratio']}x on {naive['device']}"
    )
    print(
        json.dumps(
            {
                "bench": "realtime",
                "load_average_1m": round(load, 2),
                "cpus": os.cpu_count(),
                "threads": args.threads,
                "http": http,
                "streams": stream_runs,
                "naive": naive,
            }
        )
    )


if __name__ == "__main__":
    main()
