"""`mixkit smpqa` (generate the SMPQA-style benchmark) and `mixkit eval` (run a model on it and on
caption prompts for language fidelity)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("smpqa")
    def smpqa(
        langs: str = typer.Option("paper", "--langs", help="'paper' (the paper's 11 SMPQA languages), 'all' (the "
                                  "study's 100) or comma-separated codes/names"),
        out: Path = typer.Option(..., "--out", help="output folder (smpqa-<lang>-*.tar, index.json, manifest.json)"),
        per_lang: int = typer.Option(100, "--per-lang", min=2, help="images per language, half bar and half pie charts"),
        seed: int = typer.Option(0, "--seed"),
        labels: list[Path] = typer.Option([], "--labels", help="label word list(s): <lang>.txt, .jsonl or .tsv; "
                                          "default: the less frequent half of a word-frequency list (wordfreq, else "
                                          "word counts of natural text, else CLDR words)"),
        width: str = typer.Option("448,640", "--width", help="image width range in px, e.g. 448,640"),
        control: bool = typer.Option(True, "--control/--no-control", help="add the English (Latin-script) control set"),
        workers: int = typer.Option(1, "--workers", min=1, help="worker processes (one language each)"),
    ) -> None:
        """Generate SMPQA-style bar/pie charts with labels in each language and reading/grounding questions."""
        from rich.console import Console
        from rich.table import Table

        from mixkit.evaluation.smpqa import SmpqaError, SmpqaOptions, generate_smpqa
        from mixkit.lang.languages import UnknownLanguageError
        from ocr_synth.fonts import FontUnavailableError, ShapingUnavailableError

        console = Console()
        try:
            lo, hi = (int(x) for x in width.split(","))
            opts = SmpqaOptions(per_kind=per_lang // 2, width=(lo, hi), latin_control=control,
                                label_files=[str(p) for p in labels])
            index = generate_smpqa(langs.split(","), out, seed=seed, options=opts, workers=workers)
        except (SmpqaError, UnknownLanguageError, FontUnavailableError, ShapingUnavailableError, ValueError,
                FileNotFoundError) as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2)
        t = Table(title=f"SMPQA set in {out} ({index['plots_per_lang']} plots per language, seed {seed})")
        for col in ("lang", "plots", "reading q", "grounding q", "labels from", "label pool", "MB"):
            t.add_column(col, justify="left" if col in ("lang", "labels from") else "right")
        for lang, v in index["languages"].items():
            q = v["questions"]
            t.add_row(lang, str(v["plots"]), str(q["smpqa_reading"]), str(q["smpqa_grounding"]),
                      v["labels"]["source"], str(v["labels"]["kept"]), f"{v['bytes'] / 1e6:.1f}")
        console.print(t)
        console.print(f"index: {Path(out) / 'index.json'}  ({index['seconds']} s)")

    @app.command("eval")
    def eval_cmd(
        model: str = typer.Argument(..., help="checkpoint directory (e.g. runs/train/final) or a cached hub id"),
        suite: str = typer.Option("smpqa", "--suite", help="smpqa | fidelity | all"),
        langs: str = typer.Option("paper", "--langs", help="'paper' (the paper's 11), 'all' (the study's 100) or "
                                  "comma-separated codes/names"),
        data: Optional[Path] = typer.Option(None, "--data", help="SMPQA folder from `mixkit smpqa` (default: generate one)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the full result as JSON here"),
        max_samples: Optional[int] = typer.Option(None, "--max-samples", min=1,
                                                  help="questions (SMPQA) / captions (fidelity) per language"),
        images: Optional[Path] = typer.Option(None, "--images", help="folder of photos for fidelity captions "
                                              "(default: synthetic scenes)"),
        batch_size: int = typer.Option(8, "--batch-size", min=1),
        max_new_tokens: int = typer.Option(24, "--max-new-tokens", min=1),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Evaluate a model: SMPQA accuracy per language and language fidelity per language."""
        from rich.console import Console

        from mixkit.evaluation.harness import EvalError, evaluate, results_tables
        from mixkit.evaluation.smpqa import SmpqaError
        from mixkit.lang.languages import UnknownLanguageError

        console = Console()
        try:
            res = evaluate(model, suite=suite, langs=langs.split(","), data_dir=data, max_samples=max_samples,
                           images=images, batch_size=batch_size, max_new_tokens=max_new_tokens, device=device,
                           seed=seed)
        except (EvalError, SmpqaError, UnknownLanguageError, FileNotFoundError) as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2)
        for t in results_tables(res):
            console.print(t)
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            console.print(f"results: {json_out}")
        console.print(f"{res['seconds']} s")
