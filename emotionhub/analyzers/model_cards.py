"""Where each analyzer's model card is, so the API and the admin can link it.

A spec's ``model_card`` is an http(s) URL (linked as is) or a Markdown file, absolute or
relative to the project root, which ``GET /api/v1/analyzers/{name}/model-card`` serves.
Only ``.md``/``.txt`` files are served: the path comes from plugin code, not from requests,
but a typo must not expose some other file.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from emotionhub.analyzers.contract import AnalyzerSpec

SERVED_SUFFIXES = (".md", ".markdown", ".txt")


def card_file(spec: AnalyzerSpec) -> Path | None:
    """The local card file of ``spec``, or None (no card, a URL, or not a readable file)."""
    card = spec.model_card.strip()
    if not card or card.startswith(("http://", "https://")):
        return None
    path = Path(card)
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    if path.suffix.lower() not in SERVED_SUFFIXES or not path.is_file():
        return None
    return path


def card_url(spec: AnalyzerSpec) -> str | None:
    """The link to show for ``spec``'s card: its URL, the API endpoint, or None."""
    card = spec.model_card.strip()
    if card.startswith(("http://", "https://")):
        return card
    if card_file(spec) is not None:
        return f"/api/v1/analyzers/{spec.name}/model-card"
    return None


def card_link(analyzer: str) -> str:
    """An HTML link to ``analyzer``'s model card for the admin, or "" when it has none."""
    from django.utils.html import format_html

    from emotionhub.analyzers import registry

    try:
        url = card_url(registry.get_spec(analyzer))
    except registry.UnknownAnalyzer:
        return ""
    return (
        format_html('<a href="{}" target="_blank" rel="noopener">model card</a>', url)
        if url
        else ""
    )
