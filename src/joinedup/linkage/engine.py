"""Scoring and clustering with Splink on DuckDB: prepared frames in, scored pairs and clusters out (as tables).

Everything stays in the one DuckDB connection: Splink's SQL, the household guard,
clerical decisions, the one-to-one resolution and the connected components.
"""

from __future__ import annotations

import contextlib
import json
import logging
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
    inputs = [db_api.register(name) for name in frames]
    if saved_model is not None:
        settings = json.loads(json.dumps(saved_model))
        settings["link_type"] = link_type
    else:
        # A value's frequency among a few records says nothing about how common it is (as with u, see _train).
        settings = model.settings(roles, link_type, term_frequencies=records >= _U_FROM_RECORDS)
    if only_changed:
        rules = settings["blocking_rules_to_generate_predictions"]
        for rule in rules:
            rule["blocking_rule"] = f"({rule['blocking_rule']}) AND (l.changed OR r.changed)"
        settings["additional_columns_to_retain"] = ["changed"]
    linker = Linker(inputs if len(inputs) > 1 else inputs[0], settings, log_level=None)
    if saved_model is None:
        _train(linker, roles, records)
    predictions = linker.inference.predict(threshold_match_probability=KEEP_FROM)
    trained = linker.misc.save_model_to_json(overwrite=True)
    # The stored model never carries the incremental filter.
    if only_changed and saved_model is not None:
        trained = saved_model
    return Scored(predictions.physical_name, trained)


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
