"""Open data publishing and discovery: safe releases (CSV, CSVW, Data Package, DCAT), CKAN, catalogue exchange,
``find`` and ``export-all``. See docs/publishing.md."""

from joinedup.publish.aggregate import DEFAULT_THRESHOLD, SUPPRESSED, parse_aggregate
from joinedup.publish.errors import CatalogueImportError, CkanError, PersonalDataFound, PublishError
from joinedup.publish.metadata import describe, update
from joinedup.publish.release import ReleaseResult, publish, releases

__all__ = [
    "DEFAULT_THRESHOLD",
    "SUPPRESSED",
    "CatalogueImportError",
    "CkanError",
    "PersonalDataFound",
    "PublishError",
    "ReleaseResult",
    "describe",
    "parse_aggregate",
    "publish",
    "releases",
    "update",
]
