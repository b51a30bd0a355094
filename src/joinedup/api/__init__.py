"""The HTTP API (FastAPI): /v1 for partners under sharing agreements (docs/api.md)."""

from joinedup.api.app import create_app
from joinedup.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
