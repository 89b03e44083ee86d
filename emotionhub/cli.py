"""``emotionhub``: submit media to a server, wait for the analysis, read and export results.

A client of the REST API, not of the database: it imports neither Django nor the server
code, so it works from any machine with the package installed. The server and key come
from the environment::

    export EMOTIONHUB_URL=https://emotionhub.example.org EMOTIONHUB_API_KEY=ehk_...
    emotionhub submit photo.jpg clip.mp4 --text "love it" --analyzers facial_emotion --wait
    emotionhub results 7f1c...            # the submission's items, jobs and results (JSON)
    emotionhub export --analyzer text_sentiment --since 2026-01-01 --format csv -o out.csv

Exit status: 0 done, 1 the server refused (its error code and message on stderr), 2 usage
or connection problems, 3 ``--wait`` gave up (``--timeout``), 4 the submission finished
with failed jobs (``partial``/``failed``/``cancelled``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any

import requests

FINAL_STATES = ("succeeded", "partial", "failed", "cancelled")
CSV_FIELDS = (
    "id",
    "media",
    "job",
    "analyzer",
    "analyzer_version",
    "model_version",
    "created_at",
    "payload",
)


class CliError(Exception):
    """A failure to report on stderr with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Client:
    """The few API calls the commands need, with the key from the environment."""

    def __init__(self, url: str, api_key: str, timeout: float = 60.0) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Api-Key {api_key}"
        self.session.headers["User-Agent"] = "emotionhub-cli/1"
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs) -> Any:
        url = path if path.startswith("http") else self.base + path
        try:
            answer = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach {self.base}: {exc}", status=2) from None
        if answer.status_code >= 400:
            try:
                error = answer.json()["error"]
                message = f"{error['code']}: {error['message']}"
                if error.get("details"):
                    message += f" {json.dumps(error['details'])}"
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {answer.status_code}: {answer.text[:300]}"
            raise CliError(message)
        return answer.json()

    def submit(self, files: Sequence[Path], texts: Sequence[str], analyzers: str | None) -> dict:
        data: dict[str, Any] = {"text": list(texts)}
        if analyzers:
            data["analyzers"] = analyzers
        handles = []
        try:
            for path in files:
                handles.append(("file", (path.name, path.open("rb"))))
            return self.request("POST", "/submissions", data=data, files=handles or None)
        finally:
            for _, (_, handle) in handles:
                handle.close()

    def submission(self, submission_id: str) -> dict:
        return self.request("GET", f"/submissions/{submission_id}")

    def pages(self, path: str, params: dict[str, str]) -> Iterator[dict]:
        page = self.request("GET", path, params=params)
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self.request("GET", page["next"])


def _progress_line(submission: dict) -> str:
    counts = submission.get("job_counts") or {}
    total = sum(counts.values())
    done = sum(counts.get(state, 0) for state in ("succeeded", "failed", "cancelled"))
    return (
        f"{submission['id']}: {submission['status']} {submission['progress'] * 100:5.1f}% "
        f"({done}/{total} jobs done)"
    )


def wait_for(
    client: Client,
    submission: dict,
    *,
    timeout: float,
    interval: float,
    stderr: IO[str],
) -> dict:
    """Poll until the submission is final, showing progress on ``stderr``."""
    deadline = time.monotonic() + timeout
    live = stderr.isatty()
    last = ""
    while submission["status"] not in FINAL_STATES:
        line = _progress_line(submission)
        if line != last:
            stderr.write(("\r" + line) if live else line + "\n")
            stderr.flush()
            last = line
        if time.monotonic() > deadline:
            if live:
                stderr.write("\n")
            raise CliError(f"gave up after {timeout:.0f} s; still {submission['status']}", 3)
        time.sleep(interval)
        submission = client.submission(submission["id"])
    stderr.write(("\r" if live else "") + _progress_line(submission) + "\n")
    return submission


def _results_of(submission: dict) -> list[dict]:
    return [result for item in submission.get("items", []) for result in item.get("results", [])]


def cmd_submit(args, client: Client, stdout: IO[str], stderr: IO[str]) -> int:
    files = [Path(name) for name in args.files]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise CliError(f"no such file: {', '.join(missing)}", status=2)
    if not files and not args.text:
        raise CliError("give at least one FILE or --text", status=2)
    submission = client.submit(files, args.text, args.analyzers)
    if not args.wait:
        stdout.write(json.dumps(submission, indent=2) + "\n")
        return 0
    submission = wait_for(
        client, submission, timeout=args.timeout, interval=args.interval, stderr=stderr
    )
    stdout.write(json.dumps(submission, indent=2) + "\n")
    return 0 if submission["status"] == "succeeded" else 4


def cmd_results(args, client: Client, stdout: IO[str], stderr: IO[str]) -> int:
    submission = client.submission(args.id)
    body: Any = _results_of(submission) if args.results_only else submission
    stdout.write(json.dumps(body, indent=2) + "\n")
    return 0


def cmd_export(args, client: Client, stdout: IO[str], stderr: IO[str]) -> int:
    params = {"page_size": "200", "ordering": "created_at"}
    if args.analyzer:
        params["analyzer"] = args.analyzer
    if args.since:
        params["created_after"] = args.since
    if args.until:
        params["created_before"] = args.until
    target: Any = nullcontext(stdout)
    if args.output:
        target = Path(args.output).open("w", newline="")  # noqa: SIM115 - closed by `with`
    count = 0
    with target as out:
        writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
        if args.format == "csv":
            writer.writeheader()
        for result in client.pages("/results", params):
            if args.format == "csv":
                writer.writerow({**result, "payload": json.dumps(result["payload"])})
            else:
                out.write(json.dumps(result) + "\n")
            count += 1
    stderr.write(f"{count} results exported\n")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="emotionhub",
        description="Talk to an EmotionHub server (EMOTIONHUB_URL, EMOTIONHUB_API_KEY).",
    )
    root.add_argument("--url", default=os.environ.get("EMOTIONHUB_URL", "http://localhost:8000"))
    commands = root.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", help="send files and texts for analysis")
    submit.add_argument("files", nargs="*", metavar="FILE")
    submit.add_argument("--text", action="append", default=[], help="a text item (repeatable)")
    submit.add_argument("--analyzers", help="comma-separated analyzer names")
    submit.add_argument("--wait", action="store_true", help="wait, showing progress")
    submit.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    submit.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    submit.set_defaults(run=cmd_submit)

    results = commands.add_parser("results", help="a submission's items, jobs and results")
    results.add_argument("id", metavar="ID")
    results.add_argument("--results-only", action="store_true", help="only the result list")
    results.set_defaults(run=cmd_results)

    export = commands.add_parser("export", help="every result of this key's tenant")
    export.add_argument("--analyzer")
    export.add_argument("--since", help="ISO 8601: results created at or after")
    export.add_argument("--until", help="ISO 8601: results created before")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.set_defaults(run=cmd_export)
    return root


def main(
    argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = parser().parse_args(argv)
    key = os.environ.get("EMOTIONHUB_API_KEY", "")
    try:
        if not key:
            raise CliError("set EMOTIONHUB_API_KEY (create one with manage.py create_api_key)", 2)
        return args.run(args, Client(args.url, key), stdout, stderr)
    except CliError as exc:
        stderr.write(f"emotionhub: {exc.message}\n")
        return exc.status


if __name__ == "__main__":
    sys.exit(main())
