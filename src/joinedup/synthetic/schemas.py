"""What the generators share about schemas: the fixed "today" and writing a schema as YAML."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

#: The generators' "today": the end of a financial year, when exports are often taken.
#: Fixed, so a seed gives the same file and the same rule failures on any day.
REFERENCE_DATE = date(2025, 3, 31)


def write_schema(path: Path, schema: dict[str, Any]) -> Path:
    """Write a schema dict as YAML in joinedup's schema format, fields in order."""
    text = yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, default_flow_style=False)
    path.write_text(text, encoding="utf-8")
    return path
