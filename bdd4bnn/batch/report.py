"""Reports of a results store: summary CSV and JSON, PNG plots, and an index.html.

Text from the store (model, input and job names, reasons) is escaped for each sink: HTML
escaping in the page, no math-text parsing in the plots (a name such as ``$x$`` stays text),
and in the CSV a leading ``=``, ``+``, ``-``, ``@``, tab or carriage return is quoted with
``'`` so that a spreadsheet shows the name instead of running it as a formula. The report is
written into a temporary folder beside ``--out`` and moved into place, so a full disk or an
unwritable folder leaves no partial report.
"""

from __future__ import annotations

import csv
import html
import json
import os
import shutil
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import one_line

__all__ = ["write_report"]

PLOTS = {  # file: (the plot's title, the page's caption: how to read it)
    "robust_vs_radius.png": (
        "Share of robust inputs against Hamming radius, per model",
        "One line per model: of its count and verify tasks on Hamming balls of each radius, "
        "the share that no input of the ball changes class.",
    ),
    "adversarial_counts.png": (
        "Distribution of adversarial counts (count tasks)",
        "How many count tasks found how many adversarial inputs (log scale: 0 means none).",
    ),
    "radius_histogram.png": (
        "Robustness radius histogram (radius tasks)",
        "How many inputs have each robustness radius (radius tasks that finished).",
    ),
}


def _cell(value: Any) -> Any:
    """Return a CSV cell: text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        a = r["answer"] if isinstance(r["answer"], dict) else {}
        expl = a.get("explanations")
        pc = a.get("p_correct") if r["analysis"] == "faults" else None
        pc = pc if isinstance(pc, list) and len(pc) == 2 else [None, None]
        out.append(
            {
                "key": r["key"],
                "model": r["model"],
                "input": r["input"],
                "region": r["region"],
                "analysis": r["analysis"],
                "engine": r["engine"],
                "status": r["status"],
                "label": a.get("label"),
                "robust": a.get("robust"),
                "adversarial": a.get("adversarial"),
                "radius": a.get("radius"),
                "explanation_size": (
                    len(expl[0])
                    if isinstance(expl, list) and expl and isinstance(expl[0], list)
                    else None
                ),
                "ber": a.get("ber") if r["analysis"] == "faults" else None,
                "p_correct_lo": pc[0],
                "p_correct_hi": pc[1],
                "seconds": round(r["seconds"] or 0.0, 4),
                "peak_nodes": r["peak_nodes"],
                "reason": a.get("reason") or a.get("error"),
            }
        )
    return out


def expected_accuracy(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per BER of the faults tasks on labelled inputs, the expected accuracy as a rigorous
    interval: the mean of each input's [P(correct) lo, hi]; an input without an answer
    (failed) counts as [0, 1]."""
    by: dict[float, list[tuple[float, float]]] = {}
    for s in summary:
        if s["analysis"] != "faults" or not isinstance(s["ber"], (int, float)):
            continue
        lo, hi = s["p_correct_lo"], s["p_correct_hi"]
        ok = isinstance(lo, (int, float)) and isinstance(hi, (int, float))
        if ok or s["status"] == "error":
            by.setdefault(float(s["ber"]), []).append((lo, hi) if ok else (0.0, 1.0))
    return [
        {
            "ber": ber,
            "lo": sum(a for a, _ in v) / len(v),
            "hi": sum(b for _, b in v) / len(v),
            "inputs": len(v),
        }
        for ber, v in sorted(by.items())
    ]


def _ok_values(summary: list[dict[str, Any]], analysis: str, field: str) -> list[Any]:
    """Return ``field`` of the finished tasks of one analysis."""
    return [
        s[field]
        for s in summary
        if s["analysis"] == analysis and s["status"] == "ok" and s[field] is not None
    ]


@contextmanager
def _figure(out: Path, name: str, xlabel: str, ylabel: str):
    """Yield axes for one report plot; label, title, save and close it afterwards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"text.parse_math": False}):  # names stay text ("$x$")
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        try:
            yield ax
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(PLOTS[name][0], fontsize=9)
            fig.tight_layout()
            fig.savefig(out / name)
        finally:
            plt.close(fig)


def _plots(summary: list[dict[str, Any]], out: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    robust: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for s in summary:
        hamming = str(s["region"]).startswith("r=") and str(s["region"])[2:].isdigit()
        if s["analysis"] in ("count", "verify") and s["status"] == "ok" and hamming:
            robust[s["model"]][int(s["region"][2:])].append(bool(s["robust"]))
    with _figure(out, "robust_vs_radius.png", "Hamming radius", "share of robust inputs") as ax:
        for model, by_r in sorted(robust.items()):
            rs = sorted(by_r)
            ax.plot(
                rs, [sum(by_r[r]) / len(by_r[r]) for r in rs], marker="o", label=one_line(model, 60)
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(-0.05, 1.05)
        if robust:
            ax.legend(fontsize=7)

    counts = np.array(
        [v for v in _ok_values(summary, "count", "adversarial") if isinstance(v, int)], dtype=float
    )
    with _figure(out, "adversarial_counts.png", "log10(adversarial inputs + 1)", "tasks") as ax:
        ax.hist(np.log10(counts + 1), bins=20)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    radii = [v for v in _ok_values(summary, "radius", "radius") if isinstance(v, int) and v >= 0]
    with _figure(out, "radius_histogram.png", "robustness radius", "inputs") as ax:
        if radii:
            ax.hist(radii, bins=range(0, max(radii) + 2), align="left", rwidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def write_report(rows: list[dict[str, Any]], out: str | Path) -> dict[str, Any]:
    """Write summary.csv, summary.json, the PNG plots and index.html into ``out`` (all or
    nothing: see the module docstring)."""
    from ..errors import InputError

    final = Path(out)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as exc:
        raise InputError(f"{final}: cannot write the report ({exc.strerror})") from None
    try:
        res = _write(rows, tmp)
        if final.is_dir():
            for f in tmp.iterdir():
                os.replace(f, final / f.name)
        else:
            os.replace(tmp, final)
    except OSError as exc:
        raise InputError(f"{final}: cannot write the report ({exc.strerror})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res | {"out": str(final)}


def _write(rows: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    summary = _summary(rows)
    fields = list(summary[0]) if summary else ["key"]
    with open(out / "summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows({k: _cell(v) for k, v in s.items()} for s in summary)
    totals = {s: sum(r["status"] == s for r in summary) for s in ("ok", "unknown", "error")}
    accuracy = expected_accuracy(summary)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "tasks": len(summary),
                "status": totals,
                "expected_accuracy": accuracy,
                "rows": summary,
            },
            indent=1,
        )
    )
    acc_html = "".join(
        f"<p class='accuracy'>Expected accuracy at BER {a['ber']:g}: "
        f"[{a['lo']:.6f}, {a['hi']:.6f}] over {a['inputs']} inputs.</p>"
        for a in accuracy
    )
    _plots(summary, out)
    head = "".join(f"<th>{html.escape(f)}</th>" for f in fields)
    body = "\n".join(
        "<tr class='{}'>".format(html.escape(s["status"]))
        + "".join(f"<td>{html.escape('' if s[f] is None else str(s[f]))}</td>" for f in fields)
        + "</tr>"
        for s in summary
    )
    figures = "\n".join(
        f"<figure><img src='{name}' alt='{html.escape(title)}'>"
        f"<figcaption>{html.escape(cap)}</figcaption></figure>"
        for name, (title, cap) in PLOTS.items()
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bdd4bnn report</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px}} tr.unknown{{background:#fff6d5}}
tr.error{{background:#fde0e0}} figure{{display:inline-block;margin:0 1em 1em 0}}</style>
</head><body>
<h1>bdd4bnn report</h1>
<p id="totals">{len(summary)} tasks: {totals["ok"]} ok, {totals["unknown"]} unknown,
{totals["error"]} failed.</p>
{acc_html}
{figures}
<table id="results"><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></body></html>
"""
    (out / "index.html").write_text(page)
    return {"tasks": len(summary), "status": totals, "expected_accuracy": accuracy}
