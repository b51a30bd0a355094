"""The HTTP API (FastAPI): /v1 for partners under sharing agreements (docs/api.md)."""
