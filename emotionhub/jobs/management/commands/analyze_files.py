"""Analyze local files synchronously through the installed analyzers and print JSON.

Uses the same runner and schema checks as the workers, without a server or database rows.
"""

import json
import mimetypes
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import Item
from emotionhub.analyzers.runner import run_batch, validate_settings
from emotionhub.media.validation import IMAGE_MIMES, VIDEO_MIMES


def kind_of(path: Path) -> tuple[str, str]:
    import filetype

    guess = filetype.guess(str(path))
    mime = guess.mime if guess else (mimetypes.guess_type(path.name)[0] or "")
    if mime in IMAGE_MIMES:
        return "image", mime
    if mime in VIDEO_MIMES:
        return "video", mime
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not a supported image, video or UTF-8 text") from None
    return "text", "text/plain"


class Command(BaseCommand):
    help = "Analyze local files with the installed analyzers and print one JSON document."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--analyzers", default="", help="comma-separated; default: all")
        parser.add_argument("--settings-json", default="{}", help='{"analyzer": {...}}')

    def handle(self, *args, paths, analyzers, settings_json, **options) -> None:
        wanted = [n.strip() for n in analyzers.split(",") if n.strip()] or registry.enabled_names()
        options_by_analyzer = json.loads(settings_json)
        for name in wanted:
            try:
                cls = registry.analyzer_class(name)
            except registry.UnknownAnalyzer:
                raise CommandError(f"unknown analyzer {name!r}") from None
            problems = validate_settings(cls, options_by_analyzer.get(name, {}))
            if problems:
                raise CommandError(f"settings for {name}: {'; '.join(problems)}")
        report = []
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            kind, mime = kind_of(path)
            entry: dict[str, Any] = {"path": str(path), "kind": kind, "results": {}}
            for name in wanted:
                analyzer, device = registry.loaded_analyzer(name)
                if kind not in analyzer.spec.media_kinds:
                    continue
                item = Item(
                    id=str(path),
                    kind=kind,
                    mime=mime,
                    path=path if kind != "text" else None,
                    text=path.read_text(encoding="utf-8") if kind == "text" else None,
                    settings=options_by_analyzer.get(name, {}),
                )
                (outcome,) = run_batch(analyzer, [item])
                if outcome.result is not None:
                    entry["results"][name] = {
                        "payload": dict(outcome.result.payload),
                        "model_version": outcome.result.model_version
                        or analyzer.spec.model_version,
                        "device": device,
                        "duration_ms": round(outcome.duration_ms, 2),
                    }
                else:
                    assert outcome.error is not None  # a runner outcome has one or the other
                    entry["results"][name] = {
                        "error": {"code": outcome.error.code, "message": outcome.error.message}
                    }
            report.append(entry)
        self.stdout.write(json.dumps(report, indent=2))
