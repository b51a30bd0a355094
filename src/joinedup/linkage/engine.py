"""Scoring and clustering with Splink on DuckDB: prepared frames in, scored pairs and clusters out (as tables).

Everything stays in the one DuckDB connection: Splink's SQL, the household guard,
clerical decisions, the one-to-one resolution and the connected components.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from joinedup.linkage import model

#: Below this a pair is not kept at all (nor offered for review).
KEEP_FROM = 0.05
#: Fewer records than this and u keeps the model's priors (see :func:`_train`).
_U_FROM_RECORDS = 2000
#: Random pairs for estimating u: enough for stable estimates, few enough to be quick.
_U_PAIRS = 2e5


@dataclass
class Scored:
    """Names of the tables a scoring left in the connection, and the model it used (Splink's JSON)."""

    pairs: str
    model: dict[str, Any]


def _quiet() -> None:
    # Splink logs every step at INFO; a command prints its own summary.
    # Its warning that some level met no random pair (so keeps a default u) is expected on small data.
    logging.getLogger("splink").setLevel(logging.ERROR)


def score(
    con: duckdb.DuckDBPyConnection,
    frames: Sequence[str],
    roles: Sequence[str],
    *,
    saved_model: dict[str, Any] | None = None,
    only_changed: bool = False,
) -> Scored:
    """Score candidate pairs of records across and within ``frames`` (prepared tables in ``con``).

    A ``saved_model`` is reused as it is (no training). With ``only_changed``
    the frames carry a boolean ``changed`` column and only pairs with a changed
    record on at least one side are scored (an incremental run).
    """
    from splink import DuckDBAPI, Linker

    _quiet()
    link_type = "dedupe_only" if len(frames) == 1 else "link_and_dedupe"
    db_api = DuckDBAPI(connection=con)
    records = sum(int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]) for name in frames)
    if saved_model is not None:
        settings = json.loads(json.dumps(saved_model))
        settings["link_type"] = link_type
    else:
        # A value's frequency among a few records says nothing about how common it is (as with u, see _train).
        settings = model.settings(roles, link_type, term_frequencies=records >= _U_FROM_RECORDS)
    scored_frames = list(frames)
    if only_changed:
        rules = settings["blocking_rules_to_generate_predictions"]
        scored_frames = _candidates(con, frames, [r["blocking_rule"] for r in rules])
        for rule in rules:
            rule["blocking_rule"] = f"({rule['blocking_rule']}) AND (l.changed OR r.changed)"
        settings["additional_columns_to_retain"] = ["changed"]
    inputs = [db_api.register(name) for name in scored_frames]
    linker = Linker(inputs if len(inputs) > 1 else inputs[0], settings, log_level=None)
    if only_changed:
        # Scored on candidates only, value frequencies still come from every record.
        _register_frequencies(con, db_api, linker, frames, settings)
    if saved_model is None:
        _train(linker, roles, records)
    predictions = linker.inference.predict(threshold_match_probability=KEEP_FROM)
    trained = linker.misc.save_model_to_json(overwrite=True)
    # The stored model never carries the incremental filter.
    if only_changed and saved_model is not None:
        trained = saved_model
    return Scored(predictions.physical_name, trained)


def _sides(rule: str) -> list[tuple[str, str]] | None:
    """A blocking rule's conjuncts as (left, right) expressions, or None when it is not ``a = b AND ...``."""
    pairs = []
    for part in rule.split(" AND "):
        sides = part.split(" = ")
        if len(sides) != 2 or "r." in sides[0] or "l." in sides[1]:
            return None
        pairs.append((sides[0].strip(), sides[1].strip()))
    return pairs


def _candidates(con: duckdb.DuckDBPyConnection, frames: Sequence[str], rules: Sequence[str]) -> list[str]:
    """Each frame cut to its changed records and the records sharing a blocking key with one (incremental runs).

    Only pairs with a changed record are scored, and every such pair meets a blocking
    rule, so nothing else can take part: the rest of a million records is never joined.
    """
    parsed = [_sides(rule) for rule in rules]
    if any(p is None for p in parsed):
        return list(frames)
    everything = " UNION ALL BY NAME ".join(f"SELECT * FROM {f}" for f in frames)
    # A view, not a copy of a million records: only the changed ones are written out.
    con.execute(f"CREATE OR REPLACE VIEW jd_all AS {everything}").fetchall()
    con.execute("CREATE OR REPLACE TABLE jd_changed AS SELECT * FROM jd_all WHERE changed").fetchall()
    selects = []
    for sides in parsed:
        assert sides is not None
        for a, b in (("c", "a"), ("a", "c")):  # the changed record on the left of the rule, then on the right
            on = " AND ".join(
                re.sub(r"\bl\.", f"{a}.", left) + " = " + re.sub(r"\br\.", f"{b}.", right) for left, right in sides
            )
            selects.append(f"SELECT a.rid FROM jd_all a JOIN jd_changed c ON {on}")
    con.execute(f"CREATE OR REPLACE TABLE jd_candidate_ids AS {' UNION '.join(selects)}").fetchall()
    cut = []
    for i, frame in enumerate(frames):
        name = f"jd_candidates_{i}"
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {frame} WHERE rid IN (SELECT rid FROM jd_candidate_ids)"
        ).fetchall()
        cut.append(name)
    return cut


def _register_frequencies(
    con: duckdb.DuckDBPyConnection, db_api: Any, linker: Any, frames: Sequence[str], settings: dict[str, Any]
) -> None:
    columns = sorted(
        {
            str(level["tf_adjustment_column"])
            for comparison in settings.get("comparisons", [])
            for level in comparison.get("comparison_levels", [])
            if level.get("tf_adjustment_column")
        }
    )
    everything = " UNION ALL BY NAME ".join(f"SELECT * FROM {f}" for f in frames)
    for column in columns:
        table = f"jd_tf_{column}"
        con.execute(
            f'CREATE OR REPLACE TABLE {table} AS SELECT "{column}", count(*) / sum(count(*)) OVER () AS "tf_{column}" '
            f'FROM ({everything}) WHERE "{column}" IS NOT NULL GROUP BY 1'
        ).fetchall()
        linker.table_management.register_term_frequency_lookup(db_api.register(table), column)


def _train(linker: Any, roles: Sequence[str], records: int) -> None:
    deterministic = model.deterministic_rules(roles)
    if deterministic:
        # Too few deterministic matches to estimate from: the prior stays.
        with contextlib.suppress(Exception):
            linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    # No deterministic match at all estimates 0 (and its log-odds fail): fall back to one match per record.
    settings = linker._settings_obj
    prior = float(settings._probability_two_random_records_match)
    if not 1e-9 < prior < 0.5:
        settings._probability_two_random_records_match = min(0.5, 1.0 / max(records, 2))
    # Random pairs stand for non-matches only when matches are a tiny share of them: with few records they
    # are not (half of a small test's pairs can be true matches), so the model's prior u values stay.
    if records >= _U_FROM_RECORDS:
        linker.training.estimate_u_using_random_sampling(max_pairs=_U_PAIRS, seed=1)


def gamma_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if str(r[0]).startswith("gamma_")]
