"""Open data publishing, catalogue exchange (DCAT, Data Package, CKAN) and search (docs/publish.md)."""
