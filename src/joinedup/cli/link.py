"""``joinedup link`` and ``joinedup review``: record linkage, its keys, model and clerical review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from joinedup.access import authorize, resolve_principal
from joinedup.audit import release
from joinedup.cli.common import (
    DEFAULT_ESTATE,
    AsOption,
    EstateOption,
    JsonOption,
    PurposeOption,
    choices,
    chosen,
    emit,
    err,
    escape,
    input_file,
    open_estate,
    out,
    output_folder,
    say,
    table,
)
from joinedup.errors import InputError
from joinedup.estate import Estate
from joinedup.linkage import results
from joinedup.linkage.columns import ENTITIES
from joinedup.linkage.run import DEFAULT_THRESHOLD, link

app = typer.Typer(
    help="Link people and businesses within and across datasets, with persistent keys (Splink on DuckDB).",
    no_args_is_help=True,
)
review_app = typer.Typer(help="Clerical review of the pairs linkage is unsure about.", no_args_is_help=True)

Entity = choices("Entity", ENTITIES)
EntityOption = Annotated[
    Entity,  # type: ignore[valid-type]
    typer.Option("--entity", help="What the records are: people or businesses."),
]
_PERSON = Entity("person")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="link")
    root.add_typer(review_app, name="review")


@app.command("run")
def run(
    dataset: Annotated[
        list[str],
        typer.Option("--dataset", "-d", help="A dataset to link (repeat for several).", show_default=False),
    ],
    entity: EntityOption = _PERSON,
    threshold: Annotated[
        float, typer.Option(help="Match probability from which a pair is linked (above 0, at most 1).")
    ] = DEFAULT_THRESHOLD,
    one_per_entity: Annotated[
        list[str] | None,
        typer.Option(
            "--one-per-entity",
            metavar="NAME",
            help="A linked dataset that holds at most one record per person or business (repeatable).",
        ),
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option(help="Linkage settings (YAML): columns per role, one_per_entity.", callback=input_file),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write pairs.csv and clusters.csv into this folder.")
    ] = None,
    full: Annotated[bool, typer.Option(help="Score every record, even when few changed since the last run.")] = False,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Deduplicate within and link across the datasets; give every record a persistent key.

    Columns are matched by their UK types and names (NHS and NI numbers, UPRN,
    company and VAT numbers, names, date of birth, postcode, address). Names are
    compared with their variants (Sam/Samantha, Dai/David, Seán/John). People in
    one household are kept apart. Keys carry over from the last run; only new and
    changed records are compared when few changed.

    Example:
    joinedup link run -d residents -d gp_patients
    joinedup link run -d a -d b --one-per-entity a --one-per-entity b
    joinedup link run -d suppliers --entity business --out linked
    """
    if out_dir is not None:
        output_folder("--out", out_dir, estate)
    target = open_estate(estate)
    principal = resolve_principal(target, as_, "linkage.run", dataset=dataset[0] if dataset else None).name
    parsed = _settings(settings) if settings else None
    tell = (lambda _: None) if json_ else lambda line: err.print(escape(line), highlight=False)
    result = link(
        target,
        dataset,
        principal=principal,
        entity=chosen(entity) or "person",
        threshold=threshold,
        one_per_entity=one_per_entity or (),
        settings=parsed,
        purpose=purpose,
        out=out_dir,
        full=full,
        say=tell,
    )

    def render(data: dict[str, Any]) -> None:
        kind = "people" if data["entity"] == "person" else "businesses"
        how = f"incremental: {data['changed']} new or changed" if data["incremental"] else "full run"
        say("Linked {} records of {} in {}s ({}).", data["records"], ", ".join(data["datasets"]), data["seconds"], how)
        say("{} {} found; {} of them in more than one dataset.", data["clusters"], kind, data["across"])
        say("{} pairs linked, {} for review; keys kept {}, new {}, merges {}, splits {}.", data["pairs_accepted"],
            data["review"], data["keys_kept"], data["keys_new"], data["merges"], data["splits"])  # fmt: skip

    emit(result.to_dict(), json_, render)


def _settings(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a YAML settings file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("datasets", {}), dict):
        raise InputError(f"{path}: expected a mapping with 'datasets: {{NAME: {{columns: ..., one_per_entity: ...}}}}'")
    return data


def _read(target: Estate, as_: str | None, entity: str, purpose: str | None) -> tuple[str, list[str]]:
    """Authorise ``linkage.read`` on every dataset of the latest run; the principal's name and those datasets.

    Reads then show only pairs, keys and runs of those datasets: the stored results also keep earlier
    runs' pairs of other datasets, which this authorisation does not cover.
    """
    # Who is asking is settled (and a stranger refused, on the record) before anything about the runs is said.
    name = resolve_principal(target, as_, "linkage.read").name
    run_ = results.latest_run(target, entity)
    datasets = sorted(run_["datasets"])
    for dataset in datasets:
        authorize(target, name, "linkage.read", dataset=dataset, purpose=purpose)
    return name, datasets


@app.command("history")
def history(
    entity: EntityOption = _PERSON,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show every linkage run and every merge and split of keys, with the reason.

    Example:
    joinedup link history
    joinedup link history --entity business --json
    """
    target = open_estate(estate)
    kind = chosen(entity) or "person"
    name, datasets = _read(target, as_, kind, purpose)
    data = release(
        target, results.history(target, kind, datasets), principal=name, action="linkage.read", purpose=purpose,
        detail={"what": "history", "entity": kind},
    )  # fmt: skip

    def render(d: dict[str, Any]) -> None:
        out.print(
            table(
                ["run", "at", "by", "datasets", "records", "linked pairs", "incremental"],
                [[r["id"], r["at"], r["principal"], ", ".join(f"{k} v{v}" for k, v in r["datasets"].items()),
                  r["summary"].get("records"), r["summary"].get("accepted"), "yes" if r["incremental"] else "no"]
                 for r in d["runs"]],
                title="linkage runs",
            )
        )  # fmt: skip
        if d["events"]:
            out.print(
                table(
                    ["run", "event", "key", "other keys", "reason"],
                    [[e["run_id"], e["event"], e["key"], ", ".join(e["others"]), e["reason"]] for e in d["events"]],
                    title="merges and splits",
                )
            )
        else:
            say("No merges or splits of keys so far.")

    emit(data, json_, render)


@app.command("model")
def model(
    entity: EntityOption = _PERSON,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the trained model in plain words: how strongly each kind of agreement counts.

    Example:
    joinedup link model
    joinedup link model --entity business --json
    """
    target = open_estate(estate)
    kind = chosen(entity) or "person"
    name, _ = _read(target, as_, kind, purpose)
    data = release(
        target, results.describe_model(target, kind), principal=name, action="linkage.read", purpose=purpose,
        detail={"what": "model", "entity": kind},
    )  # fmt: skip

    def render(d: dict[str, Any]) -> None:
        say("Two records picked at random are the same {} with probability {:.6f}.", kind,
            d["probability_two_random_records_match"])  # fmt: skip
        for level in d["levels"]:
            out.print(escape(f"  {level['comparison']}: {level['in_words']}"), highlight=False)

    emit(data, json_, render)


@app.command("explain")
def explain(
    pair: Annotated[str, typer.Argument(help="The pair's id (from `joinedup review list` or the stored pairs).")],
    entity: EntityOption = _PERSON,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Explain one pair's score as a waterfall of match weights, comparison by comparison.

    Example:
    joinedup link explain 3f2a9c01b7e4
    joinedup link explain 3f2a9c01b7e4 --json
    """
    target = open_estate(estate)
    kind = chosen(entity) or "person"
    name, datasets = _read(target, as_, kind, purpose)
    found = results.find_pair(target, kind, pair, datasets)
    data = release(
        target, results.explain(target, kind, found), principal=name, action="linkage.read", purpose=purpose,
        detail={"what": "explain", "entity": kind, "pair": pair},
    )  # fmt: skip

    def render(d: dict[str, Any]) -> None:
        say("Pair {}: {} (match probability {:.4f}).", d["pair"], d["status"], d["match_probability"])
        running = 0.0
        for step in d["steps"]:
            running += step["match_weight"]
            bar = ("+" if step["match_weight"] > 0 else "-") * min(40, round(abs(step["match_weight"]) * 2))
            out.print(
                escape(f"  {step['step']:<16} {step['match_weight']:+7.2f} {running:+8.2f}  {bar}  {step['level']}"),
                highlight=False,
            )

    emit(data, json_, render)


@app.command("evaluate")
def evaluate(
    truth: Annotated[
        Path,
        typer.Option(
            help="CSV of true cluster ids (dataset,id,cluster) or pairs (dataset_l,id_l,dataset_r,id_r).",
            callback=input_file,
            show_default=False,
        ),
    ],
    entity: EntityOption = _PERSON,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Measure the latest run against labelled data: precision, recall and F1 of links between records.

    Example:
    joinedup link evaluate --truth truth.csv
    joinedup link evaluate --truth labelled_pairs.csv --json
    """
    target = open_estate(estate)
    kind = chosen(entity) or "person"
    name, datasets = _read(target, as_, kind, purpose)
    data = release(
        target, results.evaluate(target, kind, truth, datasets), principal=name, action="linkage.read", purpose=purpose,
        detail={"what": "evaluate", "entity": kind},
    )  # fmt: skip

    def render(d: dict[str, Any]) -> None:
        say("precision {}  recall {}  F1 {}", d["precision"], d["recall"], d["f1"])
        say("({} true pairs, {} linked, {} correct)", d["true_pairs"], d["predicted_pairs"], d["true_positives"])

    emit(data, json_, render)


@review_app.command("list")
def review_list(
    entity: EntityOption = _PERSON,
    limit: Annotated[int, typer.Option(min=0, help="At most this many pairs, most likely first.")] = 20,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the pairs linkage is unsure about, side by side, with the evidence for and against.

    Example:
    joinedup review list
    joinedup review list --limit 5 --json
    """
    target = open_estate(estate)
    kind = chosen(entity) or "person"
    name, datasets = _read(target, as_, kind, purpose)
    queue = results.review_queue(target, kind, limit, datasets)
    data = release(
        target, queue, principal=name, action="linkage.read", purpose=purpose, row_count=len(queue),
        subjects=results.shown_subjects(target, kind, queue) if kind == "person" else (),
        detail={"what": "review", "entity": kind},
    )  # fmt: skip

    def render(items: list[dict[str, Any]]) -> None:
        if not items:
            say("Nothing to review.")
        for item in items:
            say("Pair {} (match probability {}):", item["pair"], item["match_probability"])
            fields = [k for k in item["left"] if k not in ("dataset", "id")]
            rows = [["dataset", item["left"]["dataset"], item["right"]["dataset"]],
                    ["id", item["left"]["id"], item["right"]["id"]]]  # fmt: skip
            rows += [[f, item["left"].get(f), item["right"].get(f)] for f in fields]
            out.print(table(["", "left", "right"], rows))
            say("  for: {}", "; ".join(item["for"]) or "nothing")
            say("  against: {}", "; ".join(item["against"]) or "nothing")

    emit(data, json_, render)


Decision = choices("Decision", results.DECISIONS)


@review_app.command("decide")
def review_decide(
    pair: Annotated[str, typer.Argument(help="The pair's id, from `joinedup review list`.")],
    decision: Annotated[Decision, typer.Argument(help="match or non-match.")],  # type: ignore[valid-type]
    note: Annotated[str | None, typer.Option(help="Why (kept with the decision, not in the audit log).")] = None,
    entity: EntityOption = _PERSON,
    purpose: PurposeOption = None,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Decide a pair: match or non-match. Every later run respects the decision.

    Example:
    joinedup review decide 3f2a9c01b7e4 match --note "same person, moved"
    joinedup review decide 3f2a9c01b7e4 non-match
    """
    target = open_estate(estate)
    kind = chosen(entity) or "person"
    # Who is acting is settled before anything about the pairs is looked up (or said).
    name = resolve_principal(target, as_, "linkage.review").name
    found = results.find_pair(target, kind, pair)
    for dataset in sorted({found["dataset_l"], found["dataset_r"]}):
        authorize(target, name, "linkage.review", dataset=dataset, purpose=purpose)
    value = chosen(decision) or ""
    results.decide(target, kind, found, value, note, name, purpose)
    emit(
        {"pair": pair, "decision": value, "entity": kind},
        json_,
        lambda d: say("Pair {} decided: {}. The next `joinedup link run` respects it.", d["pair"], d["decision"]),
    )
