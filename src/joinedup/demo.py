"""``joinedup demo``: a demo estate built from synthetic UK data the project generates itself.

It plays a council data engineer's first day: three exports from legacy systems
(a residents CSV in Windows-1252 with ragged rows, a GP registrations workbook,
a business register in JSON Lines), each messy in the usual ways. It proposes a
schema for one, ingests all three with reviewed schemas, checks every quarantined
row against the ground truth of the errors it planted, and queries the result.
It grows as later capabilities land.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joinedup.access import bootstrap_admin
from joinedup.errors import EstateError
from joinedup.estate import CONFIG_FILE, Estate
from joinedup.estate.config import EstateConfig
from joinedup.ingest import ingest
from joinedup.ingest.inference import infer_file_schema
from joinedup.ingest.quarantine import read_quarantine
from joinedup.quality import add_rules, estate_results, list_issues, measure
from joinedup.quality.report import estate_report
from joinedup.schema import Schema
from joinedup.storage.query import referenced_datasets, run_query
from joinedup.synthetic import (
    GroundTruth,
    businesses_schema,
    generate_businesses,
    generate_people,
    people_schema,
    write_csv,
    write_jsonl,
    write_schema,
    write_xlsx,
)

Say = Callable[[str], None]


@dataclass
class DemoReport:
    estate: str
    inputs: str
    inferred: dict[str, str] = field(default_factory=dict)
    ingests: list[dict[str, Any]] = field(default_factory=list)
    queries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Dataset → its newest quality scores, failing rules and estimated cost.
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    quality_report: str | None = None
    #: What linking residents with GP registrations found (issue 18).
    linkage: dict[str, Any] = field(default_factory=dict)

    @property
    def quarantine_matches_ground_truth(self) -> bool:
        return all(i["quarantine_matches_ground_truth"] for i in self.ingests)

    def to_dict(self) -> dict[str, Any]:
        return {
            "estate": self.estate,
            "inputs": self.inputs,
            "inferred_types": self.inferred,
            "ingests": self.ingests,
            "queries": self.queries,
            "quality": self.quality,
            "quality_report": self.quality_report,
            "quarantine_matches_ground_truth": self.quarantine_matches_ground_truth,
            "linkage": self.linkage,
        }


#: The section of ``joinedup.toml`` that marks an estate the demo built (and may replace).
DEMO_SECTION = "demo"
#: The file that marks a folder of demo inputs (which the demo may replace).
INPUTS_MARKER = ".joinedup-demo-inputs"


def inputs_folder(path: Path) -> Path:
    """Where the demo writes its synthetic exports: ``<estate>-inputs`` beside the estate."""
    return path.parent / f"{path.name}-inputs"


def run_demo(
    path: Path, *, principal: str, rows: int = 5_000, seed: int = 2026, fresh: bool = False, say: Say = lambda _: None
) -> DemoReport:
    """Build the demo estate at ``path`` (``fresh`` replaces an earlier demo estate there).

    Only an estate and an inputs folder the demo made itself are ever removed;
    anything else at either place is refused, unchanged.
    """
    path = path.expanduser().absolute()
    check_demo_target(path, fresh)
    inputs = inputs_folder(path)
    for made in (path, inputs):
        if made.exists():
            shutil.rmtree(made)
    estate = Estate.create(path, name="demo council")
    estate.config.extra[DEMO_SECTION] = {"built_by": "joinedup demo", "inputs": inputs.name}
    estate.config.save(path)
    bootstrap_admin(estate, principal)
    inputs.mkdir(parents=True)
    (inputs / INPUTS_MARKER).write_text(
        f"Synthetic exports written by `joinedup demo` for the estate {path}.\n", encoding="utf-8"
    )
    report = DemoReport(str(path), str(inputs))
    say(f"Made the estate at {path}; writing synthetic exports to {inputs}")

    residents = generate_people(rows, seed=seed, ragged_rows=3, non_ascii=True, address=True)
    # The same seed: GP registrations are half the residents (their own planted errors), so linkage finds them.
    gp = generate_people(max(rows // 2, 10), seed=seed, error_rate=0.03, address=True)
    businesses = generate_businesses(max(rows // 5, 10), seed=seed + 2)
    files: list[tuple[str, Path, GroundTruth, dict[str, Any]]] = [
        (
            "residents",
            inputs / "residents.csv",
            write_csv(inputs / "residents.csv", residents, encoding="cp1252"),
            people_schema(address=True),
        ),
        (
            "gp_registrations",
            inputs / "gp_registrations.xlsx",
            write_xlsx(inputs / "gp_registrations.xlsx", gp),
            people_schema(address=True),
        ),
        (
            "businesses",
            inputs / "businesses.jsonl",
            write_jsonl(inputs / "businesses.jsonl", businesses),
            businesses_schema(),
        ),
    ]

    proposed = infer_file_schema(files[0][1])
    report.inferred = {f.name: f.type + (f" ({f.format})" if f.format != "default" else "") for f in proposed.fields}
    say("Proposed a schema for residents.csv: " + ", ".join(f"{k}: {v}" for k, v in report.inferred.items()))

    for dataset, source, truth, schema_dict in files:
        schema_path = write_schema(inputs / f"{dataset}.yaml", schema_dict)
        schema = Schema.from_dict(schema_dict, str(schema_path))
        result = ingest(estate, source, dataset=dataset, principal=principal, schema=schema)
        quarantined = {row["_source_row"] for row in read_quarantine(estate, dataset).rows}
        planted = set(truth.bad_rows)
        entry = result.to_dict()
        entry["planted_error_rows"] = len(planted)
        entry["quarantine_matches_ground_truth"] = quarantined == planted
        if quarantined != planted:
            entry["quarantined_but_not_planted"] = sorted(quarantined - planted)[:20]
            entry["planted_but_not_quarantined"] = sorted(planted - quarantined)[:20]
        report.ingests.append(entry)
        say(
            f"{dataset}: read {result.rows_read:,} rows from "
            f"{source.name} ({result.encoding or result.source_format}), "
            f"loaded {result.rows_loaded:,}, quarantined {result.rows_quarantined:,} "
            + ("(exactly the planted errors)" if entry["quarantine_matches_ground_truth"] else "(differs from them)")
        )

    _quality(estate, inputs, report, principal, say)

    questions = {
        "residents by local authority (top 5)": (
            "SELECT gss_code, count(*) AS residents FROM residents GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
        ),
        "residents also registered with a GP (same NHS number)": (
            "SELECT count(*) AS people FROM residents r JOIN gp_registrations g ON r.nhs_number = g.nhs_number"
        ),
    }
    for title, sql in questions.items():
        report.queries[title] = run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()
        say(f"{title}: {report.queries[title]}")
    report.linkage = _link_people(estate, principal, say)
    estate.close()
    return report


#: Rules the demo registers for residents: GDQF metadata, one rule per kind of check it shows off.
DEMO_RULES = """
update_frequency: monthly
rules:
  - id: dob-as-at-gp
    check: cross_dataset
    columns: [nhs_number, date_of_birth]
    reference: gp_registrations
    purpose: one person, one date of birth across the council and the NHS
    requirement: the GP register holds the same date of birth for the same NHS number
    measurement: residents whose NHS number is registered with a GP
    target: 0.99
    importance: high
    owner: Revenues and benefits data team
  - id: amount-plausible
    check: range
    column: amount
    minimum: 0
    maximum: 5000
    purpose: amounts owed drive recovery letters
    target: 0.99
    importance: medium
    owner: Revenues and benefits data team
"""


def _quality(estate: Estate, inputs: Path, report: DemoReport, principal: str, say: Say) -> None:
    """Register the demo's rules, measure residents again with them, and write the estate's quality report."""
    rules = inputs / "residents-rules.yaml"
    rules.write_text(DEMO_RULES, encoding="utf-8")
    add_rules(estate, "residents", rules, principal=principal)
    measure(estate, "residents", principal=principal)
    results = estate_results(estate, principal=principal, purpose="demo quality report")
    for entry in results:
        latest = entry["latest"]
        report.quality[entry["dataset"]] = {
            "version": latest["version"],
            "scores": latest["scores"],
            "failing_rules": [r["id"] for r in latest["rules"] if r.get("passed") is False],
            "cost": latest["cost"]["total"],
        }
        scores = ", ".join(f"{k} {v:.0%}" for k, v in latest["scores"].items() if v is not None)
        say(f"quality of {entry['dataset']}: {scores}")
    # Beside the inputs, never inside the estate: a file there belongs to no dataset, so erasure and retention
    # would not account for it (the CLI refuses `quality --html` under the estate for the same reason).
    path = inputs / "quality-report.html"
    path.write_text(estate_report(results, list_issues(estate, principal=principal), estate.config.name), "utf-8")
    report.quality_report = str(path)
    say(f"Wrote the quality report to {path}")


def _link_people(estate: Estate, principal: str, say: Say) -> dict[str, Any]:
    """Link residents with GP registrations: one person key per person across both (issue 18)."""
    from joinedup.linkage.run import link

    result = link(estate, ["residents", "gp_registrations"], principal=principal, purpose="demo")
    found = {"records": result.records, "people": result.clusters, "people_in_both": result.across,
             "for_review": result.review, "seconds": result.seconds}  # fmt: skip
    say(
        f"linkage: {result.records:,} records are {result.clusters:,} people, "
        f"{result.across:,} of them in both residents and GP registrations ({result.review} pairs for review)"
    )
    return found


def check_demo_target(path: Path, fresh: bool) -> None:
    """Refuse to overwrite anything but an earlier demo estate (with ``fresh``) and its inputs."""
    path = path.expanduser().absolute()
    if path.exists():
        if not (path / CONFIG_FILE).exists():
            raise EstateError(f"{path}: already exists and is not a joinedup estate; choose another --estate")
        if not _made_by_demo(path):
            raise EstateError(
                f"{path}: is an estate `joinedup demo` did not make; it is never replaced (choose another --estate)"
            )
        if not fresh:
            raise EstateError(
                f"{path}: already exists (pass --fresh to replace this demo estate); choose another --estate"
            )
    inputs = inputs_folder(path)
    if inputs.exists() and not (inputs / INPUTS_MARKER).exists():
        raise EstateError(
            f"{inputs}: already exists and `joinedup demo` did not make it; move it or choose another --estate"
        )


def _made_by_demo(path: Path) -> bool:
    try:
        return DEMO_SECTION in EstateConfig.load(path).extra
    except EstateError:
        return False
