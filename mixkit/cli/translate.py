"""`mixkit translate`: translate a file of English rows into several languages with NLLB."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("translate")
    def translate(
        input: Path = typer.Argument(..., help="parquet/jsonl of schema rows (or any file mixkit.sources reads)"),
        langs: str = typer.Option(..., "--langs", help="comma-separated target codes, e.g. swh_Latn,hin_Deva"),
        out: Path = typer.Option(..., "--out", help="output directory (translated.parquet, rejects.parquet)"),
        model: str = typer.Option("facebook/nllb-200-distilled-600M", "--model", help="hub id or local checkpoint directory"),
        backend: str = typer.Option("transformers", "--backend",
                                    help="transformers | ctranslate2 | identity (returns its input: debugging)"),
        model_revision: str = typer.Option(None, "--model-revision", help="hub commit/tag to load (part of the cache key)"),
        dry_run: bool = typer.Option(False, "--dry-run",
                                     help="translate nothing; write OUT/segments.jsonl: what the model would receive"),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
        dtype: str = typer.Option("auto", "--dtype", help="auto | float32 | float16 | bfloat16"),
        batch_tokens: int = typer.Option(8192, "--batch-tokens", help="padded tokens per model batch"),
        num_beams: int = typer.Option(1, "--num-beams"),
        cache_dir: str = typer.Option(None, "--cache-dir",
                                      help="translation cache: a folder or a URL, s3://... (default: OUT/translation_cache)"),
        no_checks: bool = typer.Option(False, "--no-checks", help="keep every translation (no LID/length/repetition checks)"),
    ) -> None:
        """Translate every row of INPUT into every language of --langs (structure kept, cached, checked)."""
        from rich.console import Console
        from mixkit.runtime.progress import Progress
        from rich.table import Table

        from translation.backends import TranslationModelError
        from translation.options import TranslateOptions
        from translation.files import translate_file

        console = Console()
        try:
            opts = TranslateOptions(model=model, backend=backend, device=device, dtype=dtype, batch_tokens=batch_tokens,
                                    generation={"num_beams": num_beams}, checks={"enabled": not no_checks},
                                    cache_dir=str(cache_dir) if cache_dir else None, model_revision=model_revision)
        except ValueError as e:
            console.print(f"[red]invalid option:[/red] {e}")
            raise typer.Exit(2)
        if dry_run:
            try:
                res = translate_file(str(input), [l for l in langs.split(",") if l.strip()], str(out), opts, dry=True)
            except (TranslationModelError, ValueError, FileNotFoundError) as e:
                console.print(f"[red]error:[/red] {e}")
                raise typer.Exit(1)
            console.print(f"dry run: {res['rows_in']} rows, {res['messages']} messages, {res['segments']} segments "
                          f"-> {res['paths']['segments']}")
            print_dry_run_summary(console, res["summary"])
            console.print(f"summary -> {res['paths']['summary']}")
            return
        with Progress(console=console) as prog:
            try:
                res = translate_file(str(input), [l for l in langs.split(",") if l.strip()], str(out), opts,
                                     progress=prog.callback("translate"), say=console.print)
            except (TranslationModelError, ValueError, FileNotFoundError) as e:
                prog.stop()
                console.print(f"[red]error:[/red] {e}")
                raise typer.Exit(1)
        table = Table(title=f"{res['rows_in']} input rows -> {res['kept']} translated, {res['rejected']} rejected")
        table.add_column("language")
        table.add_column("rows", justify="right")
        for lang, n in res["by_lang"].items():
            table.add_row(lang, str(n))
        for reason, n in res["by_reason"].items():
            table.add_row(f"[yellow]rejected: {reason}[/yellow]", str(n))
        console.print(table)
        s = res["stats"]
        console.print(f"segments {s['segments']}, cache hits {s['cache_hits']}, model calls {s['model_calls']}, "
                      f"tokens in/out {s['tokens_in']}/{s['tokens_out']}")
        console.print(f"wrote {res['paths']['translated']} and {res['paths']['rejects']}")


def print_dry_run_summary(console, s: dict, show_ids: int = 10) -> None:
    """The dry run's summary (translation.summary): share of characters sent, protected pieces
    by kind, rows with nothing to translate."""
    from rich.table import Table

    console.print(f"characters that would reach the model: [bold]{s['model_share']:.1%}[/bold] "
                  f"({s['model_chars']:,} of {s['chars']:,})")
    table = Table()
    table.add_column("kept from the model")
    table.add_column("pieces", justify="right")
    for kind, n in s["protected"].items():
        table.add_row(kind, f"{n:,}")
    console.print(table)
    if s["too_long"]:
        console.print(f"[yellow]{s['too_long']} sentences too long to split: their rows would be rejected[/yellow]")
    ids = s["untranslated_ids"]
    line = f"rows where nothing would be translated: {s['untranslated_rows']} of {s['rows']}"
    if ids:
        line += ": " + ", ".join(ids[:show_ids]) + (f" (+{len(ids) - show_ids} more)" if len(ids) > show_ids else "")
    console.print(line)
