"""`mixkit ocr`: render synthetic multilingual OCR samples into WebDataset shards on their own."""
from __future__ import annotations


import typer


def register(app: typer.Typer) -> None:
    @app.command("ocr")
    def ocr(
        langs: str = typer.Option("all", "--langs", help="'all' (the study's 100) or comma-separated codes/names"),
        per_lang: int = typer.Option(200, "--per-lang", min=1, help="samples per language"),
        out: str = typer.Option(..., "--out", help="output folder or URL (shards, manifest.json, contact_sheet.png)"),
        seed: int = typer.Option(0, "--seed"),
        workers: int = typer.Option(None, "--workers", help="worker processes (default: all cores)"),
        prompts_in_target_language: bool = typer.Option(False, "--target-prompts/--english-prompts",
                                                         help="prompts in the sample's language where a table exists"),
        width: str = typer.Option("720,1280", "--width", help="image width range in px, e.g. 448,448"),
    ) -> None:
        """Render OCR images (documents and charts, correctly shaped) for every language of --langs."""
        from rich.console import Console
        from rich.table import Table

        from mixkit.core.storage import StorageError
        from mixkit.lang.languages import UnknownLanguageError
        from ocr_synth.fonts import FontUnavailableError, ShapingUnavailableError
        from ocr_synth.options import OcrOptions
        from ocr_synth.stage import render_ocr

        console = Console()
        try:
            lo, hi = (int(x) for x in width.split(","))
            opts = OcrOptions(enabled=True, prompts_in_target_language=prompts_in_target_language, width=(lo, hi))
            res = render_ocr(langs.split(","), per_lang, out, seed=seed, workers=workers, options=opts)
        except (UnknownLanguageError, FontUnavailableError, ShapingUnavailableError, ValueError, StorageError) as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2)
        t = Table(title=f"OCR samples in {out}")
        for k in ("total", "rejected", "languages", "requested_languages", "shards", "seconds"):
            t.add_row(k, str(res[k]))
        t.add_row("contact sheet", res["contact_sheet"])
        if res["rejects_by_reason"]:
            t.add_row("rejects by reason", ", ".join(f"{k}={v}" for k, v in res["rejects_by_reason"].items()))
        console.print(t)
