"""Presentation of an audit (the dict of AuditResult.to_dict()): a rich table for the terminal,
and one self-contained HTML report whose plots are embedded as base64 PNG, with the same PNGs
written beside it (`NAME.share.png`, `NAME.tiers.png`, `NAME.lid.png`), and a gallery of a few
thumbnails with their text per language (the audit's `gallery`)."""
from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

from mixkit.audit.columns import Column, pct, table_columns
from mixkit.audit.gallery import GALLERY_PER_LANG

TIER_COLOURS = {"T1": "#d62728", "T2": "#ff7f0e", "T3": "#bcbd22", "T4": "#2ca02c", "T5": "#1f77b4",
                "other": "#9467bd", "und": "#7f7f7f"}


def _sorted_langs(d: dict) -> list[tuple[str, dict]]:
    return sorted(d["by_lang"].items(), key=lambda kv: (-kv[1]["samples"], -(kv[1]["target"] or 0), kv[0]))


# ---------------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------------

def rich_table(d: dict):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=f"Audit: {d['total_samples']:,} samples in {d['shards']} shard(s)  "
                    f"English {pct(d['english_share'])}%  non-English {pct(d['non_english_share'])}%  "
                    f"duplicates {pct(d['duplicate_rate'])}%",
              caption=(f"shares in % of samples; dev = share - target (points); tokens: {d['tokenisation']}; "
                       f"{len(d['errors'])} error(s); {len(d.get('safety_findings') or [])} safety finding(s)"))
    cols = table_columns(terminal=True)
    t.add_column("lang", no_wrap=True)
    for c in cols:
        if c.left:
            t.add_column(c.header, no_wrap=True, max_width=c.max_width, overflow="ellipsis")
        else:
            t.add_column(c.header, justify="right")
    for code, r in _sorted_langs(d):
        cells = [escape(c.text(r)) for c in cols]
        t.add_row(code, *(f"[red]{x}[/red]" if c.bad and c.bad(r) else x for c, x in zip(cols, cells)))
    return t


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------

def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plot_share(d: dict) -> bytes:
    """Share vs target per language, sorted by share (largest first)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _sorted_langs(d)
    codes = [c for c, _ in rows]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.22 * len(codes) + 1.5), 4.0))
    xs = range(len(codes))
    ax.bar(xs, [r["share"] * 100 for _, r in rows], color=[TIER_COLOURS.get(r["tier"], "#333") for _, r in rows],
           label="share")
    if d["targets_given"]:
        ax.scatter(xs, [(r["target"] or 0) * 100 for _, r in rows], marker="_", s=120, color="black",
                   zorder=3, label="target")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(codes, rotation=90, fontsize=7)
    ax.set_ylabel("% of samples")
    ax.set_title("Share per language vs target (bars coloured by tier)")
    ax.legend(loc="upper right")
    return _fig_png(fig)


def plot_tiers(d: dict) -> bytes:
    """Stacked tier shares: the data, and the targets when given."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [("audit", "share")] + ([("target", "target")] if d["targets_given"] else [])
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.6 * len(bars)))
    for y, (label, key) in enumerate(bars):
        left = 0.0
        for tier, row in d["by_tier"].items():
            v = (row[key] or 0) * 100
            if v <= 0:
                continue
            ax.barh(y, v, left=left, color=TIER_COLOURS.get(tier, "#333"), label=tier if y == 0 or key == "target" else None)
            if v > 4:
                ax.text(left + v / 2, y, f"{tier}\n{v:.1f}%", ha="center", va="center", fontsize=7, color="white")
            left += v
    ax.set_yticks(range(len(bars)))
    ax.set_yticklabels([b[0] for b in bars])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of samples")
    ax.set_title("Tier shares")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7)
    return _fig_png(fig)


def plot_lid(d: dict) -> bytes:
    """Declared-vs-LID agreement per language, lowest first; unchecked languages in grey at 0."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(c, r) for c, r in d["by_lang"].items() if r["samples"] and c != "und"]
    rows.sort(key=lambda kv: (kv[1]["lid_agreement"] is not None, kv[1]["lid_agreement"] or 0, kv[0]))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.22 * len(rows) + 1.5), 3.6))
    xs = range(len(rows))
    vals = [(r["lid_agreement"] or 0) * 100 for _, r in rows]
    colours = ["#bbbbbb" if r["lid_agreement"] is None else ("#2ca02c" if r["lid_agreement"] >= 0.9 else "#d62728")
               for _, r in rows]
    ax.bar(xs, vals, color=colours)
    for x, (_, r) in zip(xs, rows):
        if r["lid_agreement"] is None:
            ax.text(x, 2, "n/a", rotation=90, ha="center", va="bottom", fontsize=6)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([c for c, _ in rows], rotation=90, fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of checked samples")
    ax.set_title("Declared language vs fastText LID (grey n/a: unchecked or only detected)")
    return _fig_png(fig)


PLOTS = (("share", "Share vs target per language", plot_share),
         ("tiers", "Tier shares", plot_tiers),
         ("lid", "LID agreement per language", plot_lid))


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _lang_table(d: dict) -> str:
    """The per-language table: the code, then every headed column of columns.LANG_COLUMNS."""
    cols = table_columns(terminal=False)
    head = "<th>lang</th>" + "".join(f"<th>{html.escape(c.header)}</th>" for c in cols)
    body = "".join(f'<tr><td class="l">{html.escape(code)}</td>{"".join(_td(c, r) for c in cols)}</tr>'
                   for code, r in _sorted_langs(d))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(c: Column, row: dict) -> str:
    classes = []
    if c.left:
        classes.append("l")
    if c.bad and c.bad(row):
        classes.append("bad")
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{html.escape(c.text(row))}</td>"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f2f2f2}
td:first-child,td:nth-child(2),td.l{text-align:left}img{max-width:100%;display:block;margin:1em 0}
.bad{color:#b00}
.plots{display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start}.plots figure{margin:0}
.lang{margin:1.2em 0 .4em;font-size:15px}.lang small{color:#666;font-weight:normal}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{width:260px;border:1px solid #ccc;border-radius:4px;padding:6px;background:#fafafa;font-size:12px}
.card img{margin:0 auto 4px;max-height:160px;max-width:160px;border:1px solid #ddd}
.card .noimg{height:60px;display:flex;align-items:center;justify-content:center;color:#b00;text-align:center;
border:1px dashed #d99;margin-bottom:4px;padding:2px}
.card .meta{color:#555;margin-bottom:3px;overflow-wrap:anywhere}.card .task{font-weight:bold;color:#1f4e99}
.card .text{white-space:pre-wrap;overflow-wrap:anywhere;max-height:12em;overflow-y:auto;background:#fff;
border:1px solid #eee;padding:3px;font-size:13px;line-height:1.35}"""


def _gallery(d: dict) -> str:
    """Per language a row of cards: thumbnail, task, id, text. Text direction comes from the text
    itself (dir="auto": Arabic and Hebrew read right to left); `lang` lets the browser pick fonts."""
    from mixkit.lang import languages

    gallery = d.get("gallery") or {}
    if not gallery:
        return "<p>none (no samples)</p>"
    esc = html.escape
    parts = []
    for code, items in sorted(gallery.items(), key=lambda kv: (-d["by_lang"].get(kv[0], {}).get("samples", 0), kv[0])):
        try:
            info = languages.get(code)
            name, tag = info.name, info.iso1 or info.iso3
        except (languages.UnknownLanguageError, ValueError):
            name, tag = ("undetermined" if code == "und" else code), "und"
        n = d["by_lang"].get(code, {}).get("samples", 0)
        cards = []
        for e in items:
            if e.get("thumb"):
                img = f'<img alt="{esc(e["id"])}" src="data:image/jpeg;base64,{e["thumb"]}">'
            else:
                img = f'<div class="noimg">{esc(e.get("thumb_error") or "no image")}</div>'
            text = f'<div class="text" dir="auto" lang="{esc(tag)}">{esc(e["text"])}</div>'
            cards.append(f'<div class="card">{img}<div class="meta"><span class="task">{esc(e["task"])}</span> '
                         f'· {esc(e["id"])}</div>{text}</div>')
        parts.append(f'<h3 class="lang">{esc(code)} <small>{esc(name)} · {n:,} samples</small></h3>'
                     f'<div class="cards">{"".join(cards)}</div>')
    return "".join(parts)


def write_html(d: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    imgs = []
    for key, title, fn in PLOTS:
        png = fn(d)
        (path.parent / f"{stem}.{key}.png").write_bytes(png)
        b64 = base64.b64encode(png).decode("ascii")
        imgs.append(f"<figure><h2>{html.escape(title)}</h2><img alt=\"{html.escape(title)}\" "
                    f"src=\"data:image/png;base64,{b64}\"></figure>")

    summary = _table(["measure", "value"], [
        ["shards", d["shards"]], ["bytes", f"{d['bytes']:,}"], ["seconds", d["seconds"]],
        ["total samples", f"{d['total_samples']:,}"], ["images", f"{d['total_images']:,}"],
        ["text tokens", f"{d['total_text_tokens']:,} ({d['tokenisation']})"],
        ["English share %", pct(d["english_share"])], ["non-English share %", pct(d["non_english_share"])],
        ["undetermined share %", pct(d["undetermined_share"])],
        ["detected by LID", d["detected_samples"]], ["LID agreement %", pct(d["lid_agreement"])],
        ["duplicate rate %", pct(d["duplicate_rate"])],
        ["max |deviation| (points)", pct(d["max_abs_deviation"])], ["targets", d["target_source"] or "none"],
        ["sample formats", ", ".join(f"{k}: {v}" for k, v in d["formats"].items())],
        ["errors", len(d["errors"])], ["safety findings", len(d.get("safety_findings") or [])],
    ])
    langs = _lang_table(d)
    tiers = _table(["tier", "samples", "share %", "target %", "dev (pts)", "languages"],
                   [[t, r["samples"], pct(r["share"]), pct(r["target"]), pct(r["deviation"], True), r["languages"]]
                    for t, r in d["by_tier"].items()])

    def simple(name: str) -> str:
        return _table([name, "samples", "share %", "text tokens", "images"],
                      [[k, r["samples"], pct(r["share"]), r["text_tokens"], r["images"]] for k, r in d[f"by_{name}"].items()])

    errors = (_table(["shard", "member", "error"], [[e["shard"], e["member"], e["error"]] for e in d["errors"]])
              if d["errors"] else "<p>none</p>")
    # Members the reader refused as hostile (links, devices, ../ or absolute names): never counted.
    safety = (_table(["shard", "member", "reason", "detail"],
                     [[f["shard"], f["member"], f["reason"], f["detail"]] for f in d["safety_findings"]])
              if d.get("safety_findings") else "<p>none</p>")
    mc = d.get("manifest_check")
    manifest = ""
    if mc:
        verdict = "matches" if mc.get("matches") else "<span class=bad>does not match</span>"
        manifest = f"<h2>Manifest</h2><p>{html.escape(str(mc.get('path')))}: audit {verdict} the manifest counts.</p>"
        if mc.get("by_lang_mismatches"):
            manifest += _table(["lang", "manifest", "audit"],
                               [[k, v["manifest"], v["audit"]] for k, v in mc["by_lang_mismatches"].items()])
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mixkit audit</title><style>{_CSS}</style></head>
<body><h1>mixkit audit</h1><div class="plots"><div>{summary}{manifest}</div>{''.join(imgs)}</div>
<h2>Languages</h2>{langs}
<h2 id="gallery">Gallery</h2><p>Up to {GALLERY_PER_LANG} samples per language (one per task first; chosen by the smallest hash
of their id), with the text the audit read.</p>{_gallery(d)}
<h2>Tiers</h2>{tiers}<h2>Sources</h2>{simple('source')}<h2>Tasks</h2>{simple('task')}
<h2>Errors</h2>{errors}
<h2>Safety findings</h2>{safety}
<p>LID checks: {html.escape(d['lid_sampling'])}; model {html.escape(os.path.basename(d['lid_model']))}.</p>
</body></html>
"""
    path.write_text(doc, encoding="utf-8")
    return path
