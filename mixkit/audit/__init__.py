"""Distribution audit of WebDataset shards: language, source, task and tier shares against
targets, LID agreement, script mismatches, duplicates — for shards mixkit wrote and for
shards it did not (img2dataset, LLaVA-style json, no `lang` field at all).

    res = audit_shards("runs/demo/shards/", targets={"eng_Latn": 0.5, "deu_Latn": 0.5})
    res.write_json("audit.json"); res.write_html("audit.html"); print(res.max_abs_deviation())

    run.py       audit_shards: shards measured in parallel on local processes, then merged
    measure.py   the streaming measure of one shard (how a sample is read, LID sampling)
    columns.py   the per-language counters and LANG_COLUMNS, the one column spec behind the
                 JSON's by_lang, the terminal table and the HTML table
    result.py    the merge and AuditResult; the JSON schema (its docstring)
    targets.py   target shares from a recipe or a manifest.json beside the shards
    gallery.py   a few samples per language with thumbnails
    report.py    the terminal (rich) table and the self-contained HTML report
"""
from mixkit.audit.measure import audit_shard, count_tokens
from mixkit.audit.result import AuditResult
from mixkit.audit.run import audit_shards
from mixkit.audit.targets import find_manifest, resolve_targets, targets_from_manifest, targets_from_recipe
from mixkit.core.shard_format import expand_shards

__all__ = ["AuditResult", "audit_shard", "audit_shards", "count_tokens", "expand_shards", "find_manifest",
           "resolve_targets", "targets_from_manifest", "targets_from_recipe"]
