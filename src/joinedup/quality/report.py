"""Self-contained HTML quality reports: one page, inline CSS and SVG charts, nothing fetched from anywhere.

Charts are drawn by matplotlib to SVG with text as paths (no font to load) and
put inline; the page has no script. It opens offline, from a USB stick or an
email attachment, the way a data owner or an auditor will read it.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from joinedup.quality.rules import DIMENSIONS

_CSS = """
body{font-family:Arial,Helvetica,sans-serif;color:#0b0c0c;margin:2em auto;max-width:1100px;padding:0 1em}
h1{font-size:2em;margin-bottom:.2em}h2{border-bottom:2px solid #1d70b8;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:1em 0;font-size:.92em}
th,td{border-bottom:1px solid #b1b4b6;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f3f2f1}.pass{color:#00703c;font-weight:bold}.fail{color:#d4351c;font-weight:bold}
.muted{color:#505a5f}.cards{display:flex;flex-wrap:wrap;gap:.8em}
.card{border:1px solid #b1b4b6;border-left:6px solid #1d70b8;padding:.5em .9em;min-width:9em}
.card b{display:block;font-size:1.6em}.low{border-left-color:#d4351c}.mid{border-left-color:#f47738}
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts svg{max-width:100%;height:auto}
"""


def dataset_report(latest: dict[str, Any], history: list[dict[str, Any]], issues: list[dict[str, Any]]) -> str:
    """One dataset: scores by dimension, each rule with target and trend, worst columns, drift, issues, cost."""
    name = latest["dataset"]
    body = [
        f"<h1>Data quality: {_e(name)}</h1>",
        f"<p class='muted'>Version {latest['version']}, {latest['rows']:,} rows, measured "
        f"{_when(latest['measured_at'])} by {_e(latest['measured_by'])}. Scores run from 0 to 1, "
        "weighted by each rule's importance (high 3, medium 2, low 1).</p>",
        _cards(latest["scores"]),
        "<div class='charts'>",
        _svg(_dimension_chart(latest["scores"], f"{name}: score by dimension")),
    ]
    if len(history) > 1:
        body.append(_svg(_trend_chart(history, f"{name}: scores by version")))
    body.append("</div>")
    body += _rules_section(latest, history)
    body += _worst_columns(latest)
    body += _quarantine_section(latest)
    body += _drift_section(latest)
    body += _issues_section(issues)
    body += _cost_section([latest])
    return _page(f"Data quality: {name}", body)


def estate_report(datasets: list[dict[str, Any]], issues: list[dict[str, Any]], estate_name: str) -> str:
    """Every dataset's latest scores side by side, open issues and the estimated cost for the estate."""
    body = [
        f"<h1>Data quality across {_e(estate_name)}</h1>",
        f"<p class='muted'>{len(datasets)} measured dataset(s); each at its newest measured version.</p>",
    ]
    if datasets:
        body.append("<div class='charts'>" + _svg(_estate_chart(datasets)) + "</div>")
        rows = []
        for entry in datasets:
            latest = entry["latest"]
            scores = latest["scores"]
            failing = sum(1 for r in latest["rules"] if r.get("passed") is False)
            rows.append(
                [_e(entry["dataset"]), str(latest["version"]), f"{latest['rows']:,}"]
                + [_score(scores.get(d)) for d in (*DIMENSIONS, "overall")]
                + [str(failing), _money(latest["cost"])]
            )
        body.append("<h2>Scores by dataset</h2>")
        body.append(
            _table(
                ["Dataset", "Version", "Rows", *[d.title() for d in DIMENSIONS], "Overall", "Rules failing", "Cost"],
                rows,
            )
        )
    body += _issues_section([i for i in issues if i["status"] == "open"])
    body += _cost_section([d["latest"] for d in datasets])
    return _page(f"Data quality: {estate_name}", body)


def _page(title: str, body: Sequence[str]) -> str:
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        "<!DOCTYPE html>\n<html lang='en-GB'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + f"\n<p class='muted'>Written by joinedup on {stamp}. Self-contained: no scripts, fonts or images "
        "from elsewhere.</p>\n</body></html>\n"
    )


def _cards(scores: dict[str, Any]) -> str:
    cards = []
    for key in ("overall", *DIMENSIONS):
        value = scores.get(key)
        if value is None:
            continue
        level = "" if value >= 0.95 else " mid" if value >= 0.8 else " low"
        cards.append(f"<div class='card{level}'><b>{value:.0%}</b>{_e(key.title())}</div>")
    return "<div class='cards'>" + "".join(cards) + "</div>"


def _rules_section(latest: dict[str, Any], history: list[dict[str, Any]]) -> list[str]:
    rows = []
    for rule in latest["rules"]:
        trend = [h["metrics"].get(rule["id"], {}).get("metric") for h in history]
        trend_text = " → ".join("–" if v is None else f"{v:.1%}" for v in trend[-6:])
        outcome = (
            "<span class='muted'>not measured</span>" if rule["passed"] is None
            else "<span class='pass'>pass</span>" if rule["passed"] else "<span class='fail'>below target</span>"
        )  # fmt: skip
        rows.append(
            [
                _e(rule["id"]),
                _e(rule["dimension"]),
                _e(rule["metric_name"])
                + (f"<br><span class='muted'>{_e(rule['error'])}</span>" if rule.get("error") else ""),
                _score(rule["metric"], 2),
                f"{rule['target']:.0%}",
                outcome,
                f"{rule['rows_failing']:,} of {rule['rows_checked']:,}",
                _e(rule["importance"]),
                _e(rule.get("owner") or ""),
                trend_text,
            ]
        )
    headers = ["Rule", "Dimension", "Metric", "Value", "Target", "Result", "Failing", "Importance", "Owner", "Trend"]
    return ["<h2>Rules</h2>", _table(headers, rows)]


def _worst_columns(latest: dict[str, Any]) -> list[str]:
    failing: dict[str, int] = {}
    for rule in latest["rules"]:
        for column in rule["columns"]:
            failing[column] = failing.get(column, 0) + (rule["rows_failing"] or 0)
    nulls = {c: p["null_share"] for c, p in latest["profile"]["columns"].items()}
    ranked = sorted(nulls, key=lambda c: (-failing.get(c, 0), -nulls[c]))[:8]
    rows = [[_e(c), f"{failing.get(c, 0):,}", f"{nulls[c]:.1%}", f"{latest['profile']['columns'][c]['distinct']:,}"]
            for c in ranked]  # fmt: skip
    return ["<h2>Worst columns</h2>", _table(["Column", "Failing rule checks", "Missing", "Distinct (approx.)"], rows)]


def _quarantine_section(latest: dict[str, Any]) -> list[str]:
    """Counts of quarantined rows by column and rule (never their values: those stay in the quarantine)."""
    quarantine = latest["profile"].get("quarantine") or {}
    reasons = quarantine.get("reasons") or {}
    if not reasons:
        return ["<h2>Quarantine reasons</h2>", "<p>No row of this version's file was quarantined.</p>"]
    rows = [[_e(column), _e(rule), f"{count:,}"] for column, rules in reasons.items() for rule, count in rules.items()]
    return [
        "<h2>Quarantine reasons</h2>",
        f"<p>{quarantine.get('rows', 0):,} row(s) of this version's file were set aside.</p>",
        _table(["Column", "Rule", "Rows"], rows),
    ]


def _drift_section(latest: dict[str, Any]) -> list[str]:
    if not latest["drift"]:
        return ["<h2>Drift</h2>", "<p>No metric moved far from its history.</p>"]
    rows = [[_e(d["id"]), _num(d["value"]), _num(d["expected"])] for d in latest["drift"]]
    return ["<h2>Drift</h2>", _table(["Metric", "This version", "Usual (median of earlier versions)"], rows)]


def _issues_section(issues: list[dict[str, Any]]) -> list[str]:
    if not issues:
        return ["<h2>Issues</h2>", "<p>No open quality issues.</p>"]
    rows = [
        [str(i["id"]), _e(i["dataset"]), _e(i["rule"]), _e(i["status"]), f"v{i['first_version']}–v{i['last_version']}",
         _e(i["importance"]), _e(i.get("owner") or ""), _e("; ".join(n["text"] for n in i["notes"]))]
        for i in issues
    ]  # fmt: skip
    return [
        "<h2>Issues</h2>",
        _table(["Id", "Dataset", "Rule", "Status", "Seen", "Importance", "Owner", "Notes"], rows),
    ]


def _cost_section(results: list[dict[str, Any]]) -> list[str]:
    if not results:
        return []
    total = sum(r["cost"]["total"] for r in results)
    days = sum(r["cost"]["staff_days"] for r in results)
    a = results[0]["cost"]["assumptions"]
    return [
        "<h2>Estimated cost of poor quality</h2>",
        f"<p><b>{_money_value(total, results[0]['cost']['currency'])}</b> ({days:,.1f} staff days).</p>",
        f"<p class='muted'>Assumptions: a day of {a['hours_per_day']} hours costs "
        f"{_money_value(a['day_rate'], a['currency'])}; putting right one failing record takes "
        f"{a['minutes_high']:g} minutes (high importance), {a['minutes_medium']:g} (medium), "
        f"{a['minutes_low']:g} (low), and one quarantined row {a['minutes_quarantined']:g} minutes; "
        f"{_e(a['basis'])}. Set them under [quality] in joinedup.toml.</p>",
    ]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th scope='col'>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _score(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def _num(value: float) -> str:
    return f"{value:,.4g}"


def _money(cost: dict[str, Any]) -> str:
    return _money_value(cost["total"], cost["currency"])


def _money_value(value: float, currency: str) -> str:
    return f"£{value:,.0f}" if currency == "GBP" else f"{value:,.0f} {_e(currency)}"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else _e(value)


# -- charts -------------------------------------------------------------------

_BLUE, _RED, _GREEN = "#1d70b8", "#d4351c", "#00703c"


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # loaded only when a report is written

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _dimension_chart(scores: dict[str, Any], title: str) -> Any:
    fig = _figure(5.2, 3.0)
    ax = fig.add_subplot()
    names = [d for d in DIMENSIONS if scores.get(d) is not None]
    values = [scores[d] for d in names]
    ax.barh(names, values, color=[_GREEN if v >= 0.95 else _RED for v in values])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("score (0–1)")
    for i, v in enumerate(values):
        # Inside a long bar in white, beside a short one in black: readable either way.
        inside = v > 0.85
        ax.text(v - 0.01 if inside else v + 0.01, i, f"{v:.0%}", va="center", ha="right" if inside else "left",
                fontsize=8, color="white" if inside else "black")  # fmt: skip
    return fig


def _trend_chart(history: list[dict[str, Any]], title: str) -> Any:
    fig = _figure(5.2, 3.0)
    ax = fig.add_subplot()
    versions = [h["version"] for h in history]
    for key in (*DIMENSIONS, "overall"):
        values = [h["scores"].get(key) for h in history]
        if any(v is not None for v in values):
            ax.plot(versions, [float("nan") if v is None else v for v in values], marker="o", label=key,
                    linewidth=2.5 if key == "overall" else 1)  # fmt: skip
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("version")
    ax.set_xticks(versions)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    return fig


def _estate_chart(datasets: list[dict[str, Any]]) -> Any:
    fig = _figure(7.0, 0.5 + 0.45 * len(datasets))
    ax = fig.add_subplot()
    names = [d["dataset"] for d in datasets]
    values = [d["latest"]["scores"].get("overall") or 0.0 for d in datasets]
    ax.barh(names, values, color=[_GREEN if v >= 0.95 else _BLUE if v >= 0.8 else _RED for v in values])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title("overall quality score by dataset", fontsize=10)
    return fig


def _svg(fig: Any) -> str:
    """The figure as inline SVG: text drawn as paths, no XML prolog, no doctype (which names an external DTD)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "joinedup"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # The RDF metadata block only names vocabularies; a reader of the page needs none of it.
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
