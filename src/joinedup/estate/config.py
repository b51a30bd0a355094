"""``joinedup.toml``: the estate's settings, read with tomllib and written by us."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from joinedup.errors import EstateError

CONFIG_FILE = "joinedup.toml"
#: Bumped when the on-disk layout changes in a way older code cannot read.
LAYOUT_VERSION = 1


@dataclass
class EstateConfig:
    name: str
    created: str
    layout: int = LAYOUT_VERSION
    #: SQLAlchemy URL of the catalogue. ``sqlite:///catalogue.db`` is relative to the estate.
    catalogue_url: str = "sqlite:///catalogue.db"
    #: DuckDB memory limit for set-based work; larger inputs spill to ``tmp/``.
    memory_limit: str = "1GB"
    #: DuckDB threads; 0 means one per core.
    threads: int = 0
    extra: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> EstateConfig:
        path = root / CONFIG_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EstateError(f"{root}: not a joinedup estate (no {CONFIG_FILE}); run `joinedup init {root}`") from None
        except tomllib.TOMLDecodeError as exc:
            raise EstateError(f"{path}: not valid TOML: {exc}") from None
        estate = data.pop("estate", {})
        catalogue = data.pop("catalogue", {})
        engine = data.pop("engine", {})
        try:
            config = cls(
                name=str(estate["name"]),
                created=str(estate["created"]),
                layout=int(estate.get("layout", LAYOUT_VERSION)),
                catalogue_url=str(catalogue.get("url", cls.catalogue_url)),
                memory_limit=str(engine.get("memory_limit", cls.memory_limit)),
                threads=int(engine.get("threads", 0)),
                extra=data,
            )
        except KeyError as exc:
            raise EstateError(f"{path}: [estate] needs {exc.args[0]!r}") from None
        if config.layout > LAYOUT_VERSION:
            raise EstateError(
                f"{path}: estate layout {config.layout} is newer than this "
                f"joinedup understands ({LAYOUT_VERSION}); upgrade joinedup"
            )
        return config

    def dump(self) -> str:
        lines = [
            "# joinedup estate settings. See docs/estate.md.",
            "[estate]",
            f"name = {_toml_str(self.name)}",
            f"created = {_toml_str(self.created)}",
            f"layout = {self.layout}",
            "",
            "[catalogue]",
            "# SQLAlchemy URL; a relative sqlite path is inside the estate.",
            f"url = {_toml_str(self.catalogue_url)}",
            "",
            "[engine]",
            "# DuckDB limits for set-based work; bigger inputs spill to tmp/.",
            f"memory_limit = {_toml_str(self.memory_limit)}",
            f"threads = {self.threads}",
        ]
        # Sections other capabilities read (e.g. [audit]) are written back as they were.
        for section, values in self.extra.items():
            lines += ["", f"[{section}]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        return "\n".join(lines) + "\n"

    def save(self, root: Path) -> None:
        (root / CONFIG_FILE).write_text(self.dump(), encoding="utf-8")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return _toml_str(str(value))


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
