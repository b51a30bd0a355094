"""Generated records and the ground truth of what was planted in them.

A generator yields :class:`Record` values; a writer turns them into a file and
returns the :class:`GroundTruth` for that file: which source rows carry planted
errors, in which column, and the rule a validator should report for each.
Rules are named as joinedup's ingest names them (the field's type for a bad
value, ``required``, ``enum``, ``minimum``, ``maximum``, ``primaryKey``, and
``columns`` for a CSV row with the wrong number of fields), so a test or a
benchmark can compare the two directly.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

#: The column named by errors that belong to a whole row, as ingest names it.
ROW = "(row)"


class PlantedError(NamedTuple):
    column: str
    #: The rule a validator reports, e.g. ``nhs_number``, ``date``, ``enum``, ``primaryKey``.
    rule: str
    #: What was done to the value, e.g. ``check_digit``, ``uk_date_format``.
    kind: str
    #: The text written to the file.
    value: str


class Record(NamedTuple):
    #: 0-based position among the data records.
    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing here calls
    #: One text per column, ``""`` for missing; a ragged CSV row has more or fewer.
    values: tuple[str, ...]
    errors: tuple[PlantedError, ...] = ()

    @property
    def ragged(self) -> bool:
        return any(e.rule == "columns" for e in self.errors)


class SyntheticRows:
    """A re-iterable, seeded stream of records: each pass yields the same rows.

    Nothing is held in memory between rows, so ten million rows cost no more
    memory than ten.
    """

    def __init__(self, name: str, columns: tuple[str, ...], rows: int, make: Callable[[], Iterator[Record]]) -> None:
        self.name = name
        self.columns = columns
        self.rows = rows
        self._make = make

    def __iter__(self) -> Iterator[Record]:
        return self._make()

    def __len__(self) -> int:
        return self.rows

    def ground_truth(self, first_row: int = 2) -> GroundTruth:
        """The ground truth without writing a file (one full pass over the rows)."""
        return GroundTruth.of(self.columns, self, first_row)


@dataclass
class GroundTruth:
    """Which rows of one written file carry planted errors, and why.

    Row numbers follow joinedup's readers: for CSV and Excel the header is row 1
    and the first record row 2; JSON Lines rows are line numbers and Parquet rows
    1-based positions, so there the first record is row 1 (``first_row``).
    """

    columns: tuple[str, ...]
    first_row: int = 2
    rows: int = 0
    errors: dict[int, tuple[PlantedError, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, columns: tuple[str, ...], records: Iterable[Record], first_row: int = 2) -> GroundTruth:
        truth = cls(columns, first_row)
        for record in records:
            truth.add(record)
        return truth

    def add(self, record: Record) -> None:
        self.rows += 1
        if record.errors:
            self.errors[record.index + self.first_row] = record.errors

    @property
    def bad_rows(self) -> list[int]:
        return sorted(self.errors)

    @property
    def error_rate(self) -> float:
        """The share of rows with at least one planted error."""
        return len(self.errors) / self.rows if self.rows else 0.0

    def counts_by_rule(self) -> dict[str, int]:
        """``{rule: errors}`` over all columns, like ingest's ``counts_by_rule``."""
        counts = Counter(e.rule for errors in self.errors.values() for e in errors)
        return dict(sorted(counts.items()))

    def rule_counts(self) -> dict[str, dict[str, int]]:
        """``{column: {rule: errors}}``, like ingest's ``rule_counts``."""
        counts: dict[str, Counter[str]] = {}
        for errors in self.errors.values():
            for e in errors:
                counts.setdefault(e.column, Counter())[e.rule] += 1
        return {column: dict(sorted(rules.items())) for column, rules in sorted(counts.items())}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "first_row": self.first_row,
            "rows_with_errors": len(self.errors),
            "error_rate": round(self.error_rate, 6),
            "counts_by_rule": self.counts_by_rule(),
            "rule_counts": self.rule_counts(),
            "errors": [{"row": row, **e._asdict()} for row in self.bad_rows for e in self.errors[row]],
        }

    def write_json(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def spread_indices(rng: random.Random, rows: int, count: int) -> frozenset[int]:
    """``count`` distinct record positions, never the first (so a duplicate has something to repeat)."""
    if rows <= 1 or count <= 0:
        return frozenset()
    return frozenset(rng.sample(range(1, rows), min(count, rows - 1)))
