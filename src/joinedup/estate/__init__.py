"""The estate: folder, settings, secret and catalogue database."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joinedup.estate.catalogue import Catalogue, DatasetInfo, VersionInfo
    from joinedup.estate.config import CONFIG_FILE
    from joinedup.estate.estate import Estate, check_dataset_name, is_inside
    from joinedup.estate.lineage import MODES, Lineage

#: Where each name lives. The catalogue (SQLAlchemy) loads when first used, so
#: a command can read the estate's settings or name the ingest modes without it.
_HOMES = {
    "CONFIG_FILE": "config",
    "MODES": "lineage",
    "Lineage": "lineage",
    "Catalogue": "catalogue",
    "DatasetInfo": "catalogue",
    "VersionInfo": "catalogue",
    "Estate": "estate",
    "check_dataset_name": "estate",
    "is_inside": "estate",
}

__all__ = [
    "CONFIG_FILE",
    "MODES",
    "Catalogue",
    "DatasetInfo",
    "Estate",
    "Lineage",
    "VersionInfo",
    "check_dataset_name",
    "is_inside",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"joinedup.estate.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
