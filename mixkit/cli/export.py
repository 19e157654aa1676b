"""`mixkit export`: shards -> LLaVA-style JSON + images, or a parquet folder `datasets` loads."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from mixkit.export.formats import FORMATS


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        shards: list[str] = typer.Argument(..., help="shard directory, glob, brace pattern ('d/{00000..00009}.tar') or files"),
        format: Literal[tuple(FORMATS)] = typer.Option(
            ..., "--format", "-f", help="; ".join(f"{n}: {w.about}" for n, w in FORMATS.items())),
        out: Path = typer.Option(..., "--out", "-o", help="a new (or empty) output folder"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    ) -> None:
        """Export shards for other trainers (LLaVA, LLaMA-Factory, prismatic, Hugging Face datasets)."""
        from rich.console import Console

        from mixkit.core.storage import StorageError
        from mixkit.export import export_shards

        console, err = Console(), Console(stderr=True, soft_wrap=True)   # an error stays one line
        try:
            res = export_shards(shards, out, format=format, progress=not quiet)
        except (FileNotFoundError, FileExistsError, ValueError, StorageError) as e:
            err.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(2)
        console.print(res.summary())
        if res.skipped:
            err.print("[yellow]skipped samples are counted by reason above; `mixkit audit` shows where they are[/]")
