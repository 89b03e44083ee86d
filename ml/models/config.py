"""Architecture configs stored in checkpoints as plain dicts and rebuilt from them."""

from __future__ import annotations

from typing import Any, ClassVar, Self


class StoredConfig:
    """Mixin for an architecture dataclass saved with ``dataclasses.asdict``.

    :meth:`from_dict` ignores keys a newer version added and turns JSON/pickle lists back
    into the tuples the dataclass declares, so old and new checkpoints both load.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """Rebuild from a checkpoint dict, ignoring unknown keys from newer versions."""
        known = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in d.items()
            if k in cls.__dataclass_fields__
        }
        return cls(**known)
