"""The estate: folder, settings, secret and catalogue database."""

from joinedup.estate.catalogue import Catalogue, DatasetInfo, VersionInfo
from joinedup.estate.estate import Estate, check_dataset_name

__all__ = ["Catalogue", "DatasetInfo", "Estate", "VersionInfo", "check_dataset_name"]
