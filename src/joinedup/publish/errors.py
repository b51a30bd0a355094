"""The one-line errors of publishing: each names a column or a setting, never a value from the data."""

from __future__ import annotations

from joinedup.errors import CheckFailed, JoinedupError


class PublishError(JoinedupError):
    """A release cannot be made as asked (unknown column, personal column, bad aggregate)."""

    kind = "publish"


class PersonalDataFound(CheckFailed):
    """The scan found a personal value or a UK identifier in what would be released."""

    kind = "personal-data"


class CkanError(JoinedupError):
    """The CKAN portal refused or could not be reached; nothing was recorded as published."""

    kind = "ckan"


class CatalogueImportError(JoinedupError):
    """A catalogue file is neither DCAT JSON-LD nor a CKAN package_search dump."""

    kind = "catalogue-import"
