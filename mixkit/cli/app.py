"""The `mixkit` command line: parses, calls one library function per command, prints."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Build multilingual vision-language training mixes from a YAML recipe.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
console = Console()
err = Console(stderr=True, soft_wrap=True)   # errors stay whole lines (file:line: field: ...)

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"


def _load(recipe_path: Path):
    from mixkit.build.recipe import RecipeError, load_recipe

    try:
        return load_recipe(recipe_path)
    except RecipeError as e:
        err.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(2)


@app.command()
def build(
    recipe: Path = typer.Argument(..., help="YAML recipe"),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="build folder or URL (s3://bucket/demo): shards/, manifest.json, steps/ for resume; required unless --plan-only"),
    work: Optional[str] = typer.Option(None, "--work", help="the steps' working folder, a path or a URL (default: --out itself); on a cluster, storage every node sees (a bucket, or a shared disk to keep the many small intermediate files off object storage)"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (ray://head:10001 or HOST:PORT); default: a local Ray"),
    dry_run: bool = typer.Option(False, "--dry-run", help="read, filter and dedup; print what would be removed; write no shards"),
    plan_only: bool = typer.Option(False, "--plan-only", help="print the quotas the recipe asks for, without touching data"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
    backend: str = typer.Option("ray", "--backend", help="ray (a local Ray, or the cluster at --address) or local (worker processes, no Ray)"),
) -> None:
    """Build a recipe into WebDataset shards at the recipe's language ratios (resumes a stopped build)."""
    from mixkit.build.runner import achieved_table, build as run_build
    from mixkit.build.folder import BuildFolder, BuildFolderError
    from mixkit.build.plan import PlanError, quotas, target_shares
    from mixkit.build.recipe import RecipeError

    r = _load(recipe)
    if plan_only:
        q = quotas(r)
        t = target_shares(r)
        table = Table(title=f"{r.name}: quotas for total={r.total}, english_share={r.english_share}")
        for col in ("lang", "name", "tier", "quota", "share"):
            table.add_column(col, justify="right" if col in ("quota", "share") else "left")
        from mixkit.lang import languages

        for c in sorted(q, key=lambda c: (-q[c], c)):
            lg = languages.get(c)
            table.add_row(c, lg.name, lg.tier, str(q[c]), f"{t[c]:.4%}")
        console.print(table)
        if r.steps.ocr.enabled:
            from ocr_synth.options import ocr_quotas, reuse_warning, text_reuse

            oq = ocr_quotas(r.steps.ocr, r.languages)
            console.print(f"OCR samples on top: {sum(oq.values())} ({len(oq)} languages)")
            warning = reuse_warning(text_reuse(r.steps.ocr, oq))
            if warning:
                console.print(f"[bold yellow]warning:[/] {warning}")
        return
    if out is None:
        err.print("[bold red]error:[/] --out is required (the build folder), e.g. --out runs/demo")
        raise typer.Exit(2)
    from mixkit.core.storage import StorageError
    from mixkit.runtime.ray_connect import RayConnectError

    try:
        folder = BuildFolder.of(out, work if work is not None else r.output.work)
    except BuildFolderError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2)
    if folder.out != str(folder.root):
        console.print(f"work folder: {folder.root}", highlight=False, soft_wrap=True)   # a path stays whole
    ray_before = "ray" in sys.modules and sys.modules["ray"].is_initialized()   # not ours to stop
    try:
        try:
            res = run_build(r, out, address=address, progress=not quiet, dry_run=dry_run, backend=backend,
                            work=folder.root)
        finally:
            if not ray_before:
                _stop_ray()           # build() closes the Ray it started; this covers an interrupted start
            ray_log = folder.ray_log if folder.ray_log.exists() else None
    except (RayConnectError, StorageError, BuildFolderError) as e:   # rerunning cannot help: one line
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2)
    except (PlanError, RecipeError) as e:
        err.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(2)
    except Exception as e:  # noqa: BLE001 - errors raised inside Ray workers arrive wrapped
        root = _root_cause(e)
        if isinstance(root, StorageError):            # met inside a worker: the same one line
            err.print(f"[bold red]error:[/] {root}", highlight=False)
            raise typer.Exit(2)
        if root is e and not type(e).__module__.startswith("ray"):
            raise
        err.print(f"[bold red]error[/] ({type(root).__name__}): {root}\n"
                  f"[dim]the build stopped; finished steps are kept, rerun the same command to resume "
                  f"(MIXKIT_DEBUG=1 shows the full traceback{f'; Ray log: {ray_log}' if ray_log else ''})[/]")
        if os.environ.get("MIXKIT_DEBUG"):
            raise
        raise typer.Exit(1)
    m = res.manifest
    if dry_run:
        console.print(f"[bold]dry run[/]: {m['kept']} rows would go to planning; removed:")
        for k, n in m["rejects"].items():
            console.print(f"  {k:<40} {n}")
        return
    table = Table(title=f"{r.name}: achieved vs target ({m['counts']['total']} samples, {len(m['shards'])} shards)")
    for col in ("lang", "samples", "achieved", "target", "Δ pts"):
        table.add_column(col, justify="left" if col == "lang" else "right")
    for lang, n, share, target in achieved_table(m):
        table.add_row(lang, str(n), f"{share:.2%}", f"{target:.2%}", f"{100 * (share - target):+.2f}")
    console.print(table)
    stats = m["accounting"].get("translation_stats") or {}
    if stats:
        console.print(f"translation: {stats.get('rows_kept', 0)} rows kept, {stats.get('rows_rejected', 0)} rejected; "
                      f"{stats.get('model_calls', 0)} model calls, {stats.get('cache_hits', 0)} cache hits")
    reuse_warning = (m.get("ocr_text_reuse") or {}).get("warning")
    if reuse_warning:
        console.print(f"[bold yellow]warning:[/] {reuse_warning}")
    acc = m["accounting"]
    console.print(f"inputs {acc['inputs']} = written {acc['written_from_inputs']} + rejected {acc['rejected']}"
                  f"  (OCR generated {acc['generated_ocr']}, up-sampled {sum(acc['upsampled'].values())})")
    console.print("steps:    " + ", ".join(f"{s['name']} {s['seconds']:.1f}s" + (" (resumed)" if s["resumed"] else "")
                                         for s in m.get("steps", []))
                  + f"  (peak driver memory {max((s['driver_peak_rss_mb'] for s in m.get('steps', [])), default=0):.0f} MB)")
    shards = str(res.shards_dir)
    console.print(f"shards:   {shards}/shard-*.tar\nmanifest: {shards}/manifest.json\n"
                  f"rejects:  {shards}/rejects.parquet", highlight=False, soft_wrap=True)
    if ray_log:
        console.print(f"Ray log:  {ray_log}", highlight=False, soft_wrap=True)


def _stop_ray():
    """Shut down this process's Ray while its output still goes to the build's Ray log, then
    give the terminal back; returns that log's path (None when Ray logged to the terminal)."""
    from mixkit.runtime.ray_connect import release_terminal

    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()
    return release_terminal()


def _root_cause(e: BaseException) -> BaseException:
    """The innermost cause (Ray wraps worker exceptions in RayTaskError / UserCodeException)."""
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        nxt = e.__cause__ or getattr(e, "cause", None)
        if not isinstance(nxt, BaseException):
            break
        e = nxt
    return e


@app.command("languages")
def languages_cmd(
    all_: bool = typer.Option(False, "--all", help="every known code (FLORES-200 + Latin), not only the study's 100"),
    tier: Optional[str] = typer.Option(None, "--tier", help="only this tier (T1..T5)"),
) -> None:
    """The language registry as a table: which detector checks each language, and where its OCR
    text comes from (default sources) and how much there is (paragraphs of running text, words)."""
    from mixkit.lang import languages
    from mixkit.lang.lid import LanguageIdentifier
    from ocr_synth.options import OcrOptions
    from ocr_synth.text_sources import text_coverage

    langs = languages.all_languages() if all_ else languages.centurio_languages()
    if tier:
        langs = [l for l in langs if l.tier == tier]
    lid = LanguageIdentifier()
    cov = text_coverage([l.code for l in langs], list(OcrOptions().text_sources))
    table = Table(title=f"{len(langs)} languages")
    for col in ("code", "iso1", "iso3", "name", "script", "tier", "NLLB", "language check", "OCR text", "paragraphs",
                "words"):
        table.add_column(col, justify="right" if col in ("paragraphs", "words") else "left")
    for l in langs:
        c = cov[l.code]
        table.add_row(l.code, l.iso1, l.iso3, l.name, l.script, l.tier, "yes" if l.nllb else "[red]no[/]",
                      lid.detector(l.code) or "[red]none[/]", c["origin"] or "[red]none: add ocr.text_files[/]",
                      str(c["paragraphs"]), str(c["words"]))
    console.print(table)


@app.command("recipes")
def recipes_cmd() -> None:
    """Bundled recipes, one line each."""
    import yaml

    table = Table(title=f"recipes in {RECIPES_DIR}")
    table.add_column("recipe")
    table.add_column("what it is")
    for p in sorted(RECIPES_DIR.rglob("*.yaml")):
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            data = {}
        desc = str(data.get("description", "")).strip().splitlines()
        table.add_row(str(p.relative_to(RECIPES_DIR)), desc[0] if desc else "")
    console.print(table)


def _register_commands() -> None:
    import importlib

    for name in ("audit", "translate", "ocr", "train", "eval", "export"):
        importlib.import_module(f"mixkit.cli.{name}").register(app)


_register_commands()
