"""The estate: folder, settings, secret and catalogue database."""

from joinedup.estate.catalogue import MODES, Catalogue, Lineage, VersionInfo
from joinedup.estate.config import CONFIG_FILE
from joinedup.estate.estate import Estate, check_dataset_name, is_inside

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
