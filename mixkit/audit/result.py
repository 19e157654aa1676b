"""The merged audit: every shard's counters together, as the documented JSON (AuditResult).

JSON schema (schema_version 2; `AuditResult.to_dict()`, `write_json`)
-------------------------------------------------------------------
Shares are fractions of `total_samples` (0.01 = 1 point). `target`/`deviation` are null
when no targets were given; with targets, a language absent from them has target 0.
  schema_version        2 (1 named `formats` `layouts`)
  shards                number of shard files audited; bytes: their total size; seconds: wall time
  total_samples         samples counted (a sample whose json is corrupt, or that a tar
                        error cut short, is not counted; it is listed in `errors`)
  total_images          image members in counted samples
  total_text_tokens     see `tokenisation`
  tokenisation          "spaced-words+nospace-chars": code points of scripts written without
                        spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer,
                        Myanmar, Tibetan) count one token each; the rest of the text counts
                        whitespace-separated words. Text = all message contents (or the .txt
                        caption) with `<image>` placeholders removed.
  by_lang               {FLORES code | "und": {one key per column of
                        mixkit.audit.columns.LANG_COLUMNS: `key` names it, `doc` says what
                        it holds}}; keys sorted
  by_source, by_task    {name: {samples, share, text_tokens, images}}
  by_tier               {"T1".."T5", "other" (not one of the study's 100), "und":
                        {samples, share, target, deviation, languages (present in the data)}}
  english_share         share of eng_Latn; non_english_share: every other determined
                        language; undetermined_share: "und". The three sum to 1.
  detected_samples      samples whose language came from LID
  lid_agreement         over all checked samples (null when none)
  duplicates, duplicate_rate   exact duplicates of the normalised text (NFKC, casefold,
                        whitespace collapsed; xxh3-64): samples - distinct texts. Samples
                        without text are not hashed. Per language in by_lang: within that
                        language.
  formats               {sample format ("mixkit"|"llava"|"img2dataset"|"other"): samples}
  unresolved_lang       {declared value the registry does not know: samples}
  errors                [{shard, member, error}] corrupt tars (shard-level, member = last
                        member read or ""), corrupt members, truncated archives, members
                        without a KEY.EXT name, adjacent repeated keys (not counted)
  safety_findings       [{shard, member, reason, detail}] members the reader refused as
                        hostile (mixkit.core.shard_format.SAFETY_REASONS): symlinks/hardlinks and
                        devices/fifos (their sample is not counted), absolute or climbing
                        (../) names (never used as keys; not counted as samples)
  gallery               {lang: [{id, task, text (first 600 characters), thumb (base64 JPEG,
                        <= 160 px, or null with thumb_error), shard, key}]}: up to 4 samples
                        per language, those with the smallest xxh3-64 hash of their id;
                        only their images are read, after the merge (mixkit.audit.gallery)
  manifest_check        null, or when a manifest.json lies beside the shards:
                        {path, total_manifest, total_audit, by_lang_mismatches
                        {code: {manifest, audit}}, matches}
  targets_given, target_source (e.g. "recipe:r.yaml", "manifest:...", "argument")
  max_abs_deviation     max |deviation| over by_lang (null without targets)
  lid_model             path of the fastText model used; lid_sampling: how declared languages
                        are sampled for LID checks (mixkit.audit.measure)
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mixkit.audit.columns import GroupCounts, LangCounts, LangView, lang_entry, share
from mixkit.audit.gallery import attach_thumbnails, merge_gallery
from mixkit.audit.measure import LID_SAMPLING, TOKENISATION, UND, language_or_none
from mixkit.core import storage
from mixkit.core.shard_format import Manifest
from mixkit.lang import languages

SCHEMA_VERSION = 2
TIER_KEYS = (*languages.TIERS, "other", UND)


def _dup_count(hashes: list[bytes]) -> tuple[int, int]:
    import numpy as np

    if not hashes:
        return 0, 0
    a = np.frombuffer(b"".join(hashes), dtype=np.uint64)
    return int(a.size), int(a.size - np.unique(a).size)


def _tier_of(code: str, info) -> str:
    if code == UND:
        return UND
    return (info.tier if info and info.tier else "other")


def _merged(parts: list[dict], key: str, counts: type[GroupCounts]) -> dict[str, GroupCounts]:
    out: dict[str, GroupCounts] = {}
    for p in parts:
        for k, v in p[key].items():
            out.setdefault(k, counts()).merge(v)
    return out


def merge(parts: list[dict], targets: dict[str, float] | None, meta: dict) -> dict:
    """The audit JSON from the shards' counters (mixkit.audit.measure.ShardMeasure.result)."""
    langs: dict[str, LangCounts] = _merged(parts, "langs", LangCounts)   # type: ignore[assignment]
    sources, tasks = _merged(parts, "sources", GroupCounts), _merged(parts, "tasks", GroupCounts)
    conf: dict[str, Counter] = {}
    hashes: dict[str, list[bytes]] = {}
    formats: Counter = Counter()
    unresolved: Counter = Counter()
    errors: list[dict] = []
    safety: list[dict] = []
    nbytes = 0
    for p in parts:
        nbytes += p["bytes"]
        errors.extend(p["errors"])
        safety.extend(p["safety"])
        formats.update(p["formats"])
        unresolved.update(p["unresolved"])
        for code, c in p["confusions"].items():
            conf.setdefault(code, Counter()).update(c)
        for code, b in p["hashes"].items():
            hashes.setdefault(code, []).append(b)

    total = sum(v.samples for v in langs.values())
    if targets is not None:
        targets = {languages.resolve(k) if k != UND else UND: float(v) for k, v in targets.items()}
    by_lang: dict[str, dict] = {}
    for code in sorted(set(langs) | set(targets or {})):
        info = None if code == UND else language_or_none(code)
        by_lang[code] = lang_entry(LangView(
            code=code, info=info, tier=_tier_of(code, info), counts=langs.get(code, LangCounts()), total=total,
            target=None if targets is None else targets.get(code, 0.0),
            checkable=info is not None and meta["lid"].can_check(code),
            confusions=conf.get(code, Counter()), duplicates=_dup_count(hashes.get(code, []))[1]))

    by_tier: dict[str, dict] = {}
    for tier in TIER_KEYS:
        rows = [r for r in by_lang.values() if r["tier"] == tier]
        n = sum(r["samples"] for r in rows)
        t = None if targets is None else sum((r["target"] for r in rows), 0.0)
        by_tier[tier] = {"samples": n, "share": share(n, total), "target": t,
                         "deviation": None if t is None else share(n, total) - t,
                         "languages": sum(1 for r in rows if r["samples"])}

    def table(d: dict[str, GroupCounts]) -> dict:
        return {k: {"samples": v.samples, "share": share(v.samples, total), "text_tokens": v.text_tokens,
                    "images": v.images} for k, v in sorted(d.items())}

    _, dups = _dup_count([b for bs in hashes.values() for b in bs])
    eng = langs[languages.ENGLISH].samples if languages.ENGLISH in langs else 0
    und = langs[UND].samples if UND in langs else 0
    checked = sum(v.lid_checked for v in langs.values())
    devs = [abs(r["deviation"]) for r in by_lang.values() if r["deviation"] is not None]
    return {
        "schema_version": SCHEMA_VERSION,
        "shards": len(parts), "bytes": nbytes, "seconds": meta["seconds"],
        "total_samples": total,
        "total_images": sum(v.images for v in langs.values()),
        "total_text_tokens": sum(v.text_tokens for v in langs.values()),
        "tokenisation": TOKENISATION,
        "targets_given": targets is not None, "target_source": meta.get("target_source"),
        "max_abs_deviation": max(devs) if devs else (0.0 if targets is not None else None),
        "english_share": share(eng, total),
        "non_english_share": share(total - eng - und, total),
        "undetermined_share": share(und, total),
        "by_lang": by_lang, "by_source": table(sources), "by_task": table(tasks), "by_tier": by_tier,
        "detected_samples": sum(v.detected for v in langs.values()),
        "lid_agreement": sum(v.lid_agree for v in langs.values()) / checked if checked else None,
        "duplicates": dups, "duplicate_rate": share(dups, total),
        "formats": dict(sorted(formats.items())), "unresolved_lang": dict(sorted(unresolved.items())),
        "errors": errors, "safety_findings": safety,
        "gallery": attach_thumbnails(merge_gallery([p.get("gallery", {}) for p in parts])),
        "manifest_check": None,
        "lid_model": meta["lid"].model_path, "lid_sampling": LID_SAMPLING,
    }


def manifest_check(manifest: str | None, by_lang: dict[str, dict], total: int) -> dict | None:
    if manifest is None:
        return None
    try:
        counts = Manifest.read(manifest).counts
    except ValueError:
        return {"path": storage.display(manifest), "error": "unreadable manifest.json", "matches": False}
    exp = counts.by_lang
    got = {k: r["samples"] for k, r in by_lang.items() if r["samples"]}
    mism = {k: {"manifest": exp.get(k, 0), "audit": got.get(k, 0)}
            for k in sorted(set(exp) | set(got)) if exp.get(k, 0) != got.get(k, 0)}
    return {"path": storage.display(manifest), "total_manifest": counts.total, "total_audit": total, "by_lang_mismatches": mism,
            "matches": not mism and counts.total == total}


@dataclass
class AuditResult:
    """The merged audit. `to_dict()` gives the documented JSON (see the module docstring)."""

    data: dict = field(repr=False)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self.data))        # a deep copy, JSON types only

    @property
    def total_samples(self) -> int:
        return self.data["total_samples"]

    @property
    def by_lang(self) -> dict[str, dict]:
        return self.data["by_lang"]

    @property
    def errors(self) -> list[dict]:
        return self.data["errors"]

    def write_json(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def write_html(self, path: str | os.PathLike) -> Path:
        """One self-contained HTML file (plots as base64 PNG) plus the PNGs beside it."""
        from mixkit.audit.report import write_html

        return write_html(self.data, path)

    def rich_table(self):
        from mixkit.audit.report import rich_table

        return rich_table(self.data)

    def max_abs_deviation(self) -> float:
        """Largest |share - target| over languages; ValueError when no targets were given."""
        if not self.data["targets_given"]:
            raise ValueError("no targets: pass targets=..., a recipe (--recipe), or audit shards with a "
                             "manifest.json holding targets.by_lang")
        return float(self.data["max_abs_deviation"])

    def over_deviation(self, limit: float) -> dict[str, dict]:
        """Languages whose |share - target| exceeds `limit`, largest first."""
        self.max_abs_deviation()
        rows = {c: r for c, r in self.by_lang.items() if abs(r["deviation"]) > limit}
        return dict(sorted(rows.items(), key=lambda kv: -abs(kv[1]["deviation"])))
