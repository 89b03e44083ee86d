"""Feedback import speed and memory: rows per second from upload to jobs created, peak RSS.

Writes a ``--rows`` CSV survey export (default 100,000 rows, ids, times, ratings, comments)
to a temporary file, then in one process on a private PostgreSQL and Redis (started like
the test suite does, ``scripts/testenv.py``):

* ``import``: ``social.imports.create_import`` (the API's path: mapping checked against the
  header, file stored) and ``process_import`` (what the ``ingest`` worker runs: batches,
  a post, a submission, a text item and its jobs per row, jobs sent to Redis), timed from
  the upload to the last job created;
* ``baseline``: the same file only parsed (``import_files.csv_rows`` and the mapping), the
  floor that reading costs, measured in the same run; the ratio is baseline / import time.

Peak RSS (``ru_maxrss``) is printed before and after the import next to the file size: the
file is streamed, so memory must not grow with it::

    .venv/bin/python bench/feedback_import.py                # 100,000 rows
    .venv/bin/python bench/feedback_import.py --rows 10000
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORDS = [
    "great",
    "slow",
    "support",
    "app",
    "crash",
    "love",
    "price",
    "delivery",
    "refund",
    "friendly",
    "broken",
    "fast",
]


def _testenv():
    spec = importlib.util.spec_from_file_location("testenv", ROOT / "scripts" / "testenv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(18)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["response_id", "submitted_at", "nps", "channel", "comment"])
        for n in range(rows):
            comment = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30)))
            day = 1 + n % 28
            writer.writerow([f"R{n}", f"2026-10-{day:02d}T12:00:00Z", n % 11, "nps", comment])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()

    testenv = _testenv()
    base = Path(tempfile.mkdtemp(prefix="emotionhub-bench-"))
    base.chmod(0o755)
    servers = []
    if not os.environ.get("DATABASE_URL"):
        servers.append(testenv.start_postgres(base / "pg"))
        os.environ["DATABASE_URL"] = servers[-1].url
    if not os.environ.get("REDIS_URL"):
        (base / "redis").mkdir()
        servers.append(testenv.start_redis(base / "redis"))
        os.environ["REDIS_URL"] = servers[-1].url
    os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emotionhub.settings.test")
    os.environ["EMOTIONHUB_ANALYZERS"] = "text_length"
    # text_length is one of the test plugins (scripts/venv.sh install_test_plugins).
    plugins = ROOT / "var" / "test-plugins"
    if not plugins.is_dir():
        sys.exit(f"{plugins} is missing: run `source scripts/venv.sh && install_test_plugins`")
    sys.path.insert(0, str(plugins))
    os.environ["EMOTIONHUB_IMPORT_BATCH_ROWS"] = str(args.batch)
    try:
        import django

        django.setup()
        from django.core.files.uploadedfile import UploadedFile
        from django.core.management import call_command

        from emotionhub.accounts.models import Tenant
        from emotionhub.jobs.models import AnalysisJob
        from emotionhub.social import imports
        from emotionhub.social.import_files import csv_rows
        from emotionhub.social.import_mapping import row_post
        from emotionhub.social.models import Source

        call_command("migrate", verbosity=0)
        path = base / "survey.csv"
        write_csv(path, args.rows)
        size_mib = path.stat().st_size / 2**20
        mapping = {"text": "comment", "time": "submitted_at", "rating": "nps",
                   "channel": "channel", "external_id": "response_id"}  # fmt: skip

        started = time.perf_counter()
        with path.open("rb") as binary:
            parsed = sum(1 for n, row, _ in csv_rows(binary) if row_post(n, row, mapping))
        baseline_s = time.perf_counter() - started
        rss_before = peak_rss_mib()

        tenant = Tenant.objects.create(name="bench")
        source = Source.objects.create(
            tenant=tenant, kind="import", name="survey", analyzers=["text_length"]
        )
        started = time.perf_counter()
        with path.open("rb") as binary:
            upload = UploadedFile(binary, name="survey.csv", size=path.stat().st_size)
            feedback = imports.create_import(tenant, upload, mapping, source=source)
        status = imports.process_import(str(feedback.pk))
        import_s = time.perf_counter() - started
        rss_after = peak_rss_mib()
        feedback.refresh_from_db()
        jobs = AnalysisJob.objects.filter(tenant=tenant).count()
        ok = status == "succeeded" and feedback.rows_created == args.rows == jobs == parsed
        print(f"rows: {args.rows} ({size_mib:.1f} MiB CSV), batch {args.batch}")
        print(f"baseline (parse + map only): {parsed / baseline_s:10.0f} rows/s")
        print(
            f"import (upload to jobs):     {feedback.rows_created / import_s:10.0f} rows/s "
            f"({import_s:.1f} s; {jobs} jobs)"
        )
        print(f"ratio baseline / import: {import_s / baseline_s:.1f}x")
        print(f"peak RSS: {rss_before:.0f} MiB before the import, {rss_after:.0f} MiB after")
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "file_mib": round(size_mib, 1),
                    "import_rows_per_s": round(feedback.rows_created / import_s, 1),
                    "baseline_rows_per_s": round(parsed / baseline_s, 1),
                    "ratio": round(import_s / baseline_s, 1),
                    "peak_rss_mib_before": round(rss_before),
                    "peak_rss_mib_after": round(rss_after),
                    "ok": ok,
                }
            )
        )
        return 0 if ok else 1
    finally:
        for server in reversed(servers):
            server.stop()
        testenv.remove_tree(base)


if __name__ == "__main__":
    sys.exit(main())
