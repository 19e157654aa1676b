"""`mixkit audit`: measure the language distribution of WebDataset shards against targets.

Exit codes: 0 ok; 1 some language is off target by more than --max-deviation; 2 bad input
(no shards, unreadable recipe, --max-deviation without any targets)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit(
        shards: List[str] = typer.Argument(..., help="shard directory, glob, brace pattern "
                                           "('data/{00000..00999}.tar') or several tar paths"),
        recipe: Optional[Path] = typer.Option(None, "--recipe", help="recipe whose target shares to compare against "
                                              "(default: targets.by_lang of a manifest.json beside the shards)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the audit as JSON (schema: mixkit.audit docstring)"),
        html_out: Optional[Path] = typer.Option(None, "--html", help="write a self-contained HTML report (+ PNG plots beside it)"),
        max_deviation: Optional[float] = typer.Option(None, "--max-deviation", help="exit 1 if any language's "
                                                      "|share - target| exceeds this (0.01 = 1 point)"),
        workers: Optional[int] = typer.Option(None, "--workers", help="processes (default: CPU count)"),
        lid_model: Optional[Path] = typer.Option(None, "--lid-model", help="fastText LID model (default: lid.176.ftz)"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    ) -> None:
        """Audit shards: language/source/task/tier shares vs targets, LID agreement, duplicates, errors."""
        from rich.console import Console

        from mixkit.audit import audit_shards, resolve_targets
        from mixkit.core.storage import StorageError

        console, err = Console(), Console(stderr=True, soft_wrap=True)
        if not console.is_terminal:     # piped / CI logs: rich would squeeze the table into 80 columns
            console = Console(width=160)
        spec = shards[0] if len(shards) == 1 else shards
        try:
            targets, target_source = resolve_targets(spec, recipe)
        except (FileNotFoundError, ValueError, StorageError) as e:   # RecipeError / UnknownLanguageError are ValueErrors; StorageError: credentials, bucket
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2)
        if max_deviation is not None and targets is None:
            err.print("[bold red]error:[/] --max-deviation needs targets: pass --recipe, or audit shards that have a "
                      "manifest.json with targets.by_lang beside them")
            raise typer.Exit(2)
        try:
            res = audit_shards(spec, targets=targets, lid_model=str(lid_model) if lid_model else None,
                               workers=workers, progress=not quiet)
        except (FileNotFoundError, ValueError, StorageError) as e:
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2)
        res.data["target_source"] = target_source
        console.print(res.rich_table())
        d = res.data
        mc = d["manifest_check"]
        if mc is not None:
            console.print(f"manifest {mc['path']}: " + ("[green]counts match[/]" if mc.get("matches") else
                          f"[red]counts differ[/] {mc.get('by_lang_mismatches') or mc.get('error')}"))
        for f in d.get("safety_findings") or []:
            err.print(f"[bold red]unsafe member:[/] {f['shard']} {f['member']!r}: {f['reason']}: {f['detail']}")
        for e in d["errors"][:20]:
            err.print(f"[yellow]corrupt:[/] {e['shard']} {e['member']}: {e['error']}")
        if len(d["errors"]) > 20:
            err.print(f"[yellow]... {len(d['errors']) - 20} more errors (see --json)[/]")
        if json_out:
            console.print(f"JSON: {res.write_json(json_out)}")
        if html_out:
            console.print(f"HTML: {res.write_html(html_out)}")
        if max_deviation is not None:
            over = res.over_deviation(max_deviation)
            if over:
                for code, r in over.items():
                    err.print(f"[red]off target:[/] {code} share {r['share'] * 100:.2f}% target "
                              f"{r['target'] * 100:.2f}% ({r['deviation'] * 100:+.2f} pts > {max_deviation * 100:.2f})")
                raise typer.Exit(1)
            console.print(f"[green]every language within {max_deviation * 100:.2f} pts of target[/] "
                          f"(max {res.max_abs_deviation() * 100:.2f})")
