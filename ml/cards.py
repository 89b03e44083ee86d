"""Model cards with generated figures: the measurements go to a JSON file, and the section
of the Markdown card between :data:`BEGIN` and :data:`END` is re-rendered from them, so no
figure in a card is typed by hand (``ml.model_card``, ``ml.text.model_card``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- metrics:begin -->", "<!-- metrics:end -->"


def write_card(
    card: dict[str, Any], json_path: Path, md_path: Path, rendered: str, indent: int = 2
) -> None:
    """Write ``card`` as JSON and put ``rendered`` between the markers of ``md_path``."""
    json_path.write_text(json.dumps(card, indent=indent) + "\n")
    head, _, rest = md_path.read_text().partition(BEGIN)
    _, _, tail = rest.partition(END)
    md_path.write_text(f"{head}{BEGIN}\n{rendered}\n{END}{tail}")
