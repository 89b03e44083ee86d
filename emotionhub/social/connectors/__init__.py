"""One connector per source kind; :func:`connector_for` picks it."""

from __future__ import annotations

from emotionhub.social.connectors.base import Connector, InvalidConfig
from emotionhub.social.connectors.bluesky import BlueskyConnector
from emotionhub.social.connectors.mastodon import MastodonConnector
from emotionhub.social.connectors.reddit import RedditConnector
from emotionhub.social.connectors.rss import RssConnector

CONNECTORS: dict[str, type[Connector]] = {
    cls.kind: cls for cls in (RssConnector, MastodonConnector, RedditConnector, BlueskyConnector)
}


def connector_for(kind: str) -> Connector:
    try:
        return CONNECTORS[kind]()
    except KeyError:
        raise InvalidConfig(f"sources of kind {kind!r} are not fetched") from None


def clean_config(kind: str | None, config: object) -> dict:
    """The normalised config of a source of ``kind`` (pushed sources take no config)."""
    if not isinstance(config, dict):
        raise InvalidConfig("config must be a JSON object")
    if kind in ("webhook", "import"):
        if config:
            raise InvalidConfig(f"{kind} sources take no config")
        return {}
    if kind not in CONNECTORS:
        raise InvalidConfig(f"unknown source kind {kind!r}")
    return CONNECTORS[kind].clean_config(config)
