"""How a dataset's field is named where it leaves the estate (the API, extracts)."""

from __future__ import annotations

import re


def snake(name: str) -> str:
    """A field's name as the API shows it: snake_case (``DateOfBirth`` → ``date_of_birth``)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    text = text or "field"
    if text[0].isdigit():
        text = "f_" + text
    return "id_field" if text == "id" else text
