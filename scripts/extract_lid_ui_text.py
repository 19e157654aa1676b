"""Training text for the language check's n-gram model and pair word models: desktop translations in Debian.

The n-gram model (mixkit/lang/lid_ngram.py) learns from the UDHR, wordfreq and CLDR. For Occitan that is the
UDHR and a few CLDR strings, and on natural text the model read Occitan as Catalan (52% right). This script
adds human translations of desktop programs, for the languages in `lid_ngram.UI_TEXT_LANGS` only: Occitan
and its Romance neighbours, Croatian and Bosnian and their West and South Slavic neighbours (Latin script).
A whole family gets the text or none of it: a language with software text beside a neighbour without it
wins that neighbour's software text (measured: Swati, with no such text, fell from 71% to 5% when Zulu and
Xhosa got theirs; benchmarks/data/README.md). Malay and Indonesian get it too, for the word model that
tells them apart (`lid_pairs.PAIRS`), not for the n-gram model.

The packages (Debian 12 bookworm; GPL-2.0+ / LGPL-2.1+ / GPL-3.0+ translations, each under its program's
licence): KDE Plasma and applications, Xfce, GNOME applications (not those in the held-out set), Cinnamon,
GIMP, and the games Battle for Wesnoth and Widelands. None of them is a source of the held-out set
(benchmarks/data/lid_heldout.tsv.gz: Firefox, LibreOffice, VLC, Tux Paint, Django for these languages), and a
string found word for word in the held-out set is dropped here as well.

    mkdir -p /tmp/ui && cd /tmp/ui && apt-get download $(python scripts/extract_lid_ui_text.py --packages)
    python scripts/extract_lid_ui_text.py /tmp/ui mixkit/data/ui_text

Writes one `<FLORES code>.txt` per language (a string per line, at most --per-lang, twice that for a pair's
members, drawn in a seeded order) and `SOURCES.tsv` (package and version of each .deb read). The same packages
give the same files.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_lid_heldout import SHARED_BY, clean, flores_of, gettext_dirs, mo_strings, unpack  # noqa: E402
from lid_accuracy import heldout_texts  # noqa: E402

from mixkit.lang import languages  # noqa: E402
from mixkit.lang.lid_ngram import UI_TEXT_LANGS  # noqa: E402
from mixkit.lang.lid_pairs import CODES as PAIR_CODES  # noqa: E402
from mixkit.lang.writing_systems import matches_script  # noqa: E402

PACKAGES = (
    # KDE Plasma and applications
    "plasma-workspace-data", "plasma-desktop-data", "kdeplasma-addons-data", "kwin-data", "plasma-nm", "kinfocenter",
    "kio-extras-data", "dolphin", "konqueror", "okular", "kate5-data",
    # Xfce
    "xfce4-panel", "xfce4-session", "xfce4-settings", "xfce4-terminal", "xfdesktop4-data", "xfwm4", "thunar-data",
    "mousepad",
    # GNOME applications (the held-out set's GNOME packages, nautilus, gedit, gnome-desktop, GTK, are not here)
    "gnome-control-center-data", "gnome-shell-common", "gnome-terminal-data", "evince-common", "eog", "totem-common",
    "file-roller", "libgweather-4-common",
    # Cinnamon, GIMP, games
    "cinnamon-l10n", "gimp-data", "wesnoth-1.16-data", "widelands-data",
)
LANGS = UI_TEXT_LANGS | PAIR_CODES


def collect(pkg_dir: Path) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """({flores code: clean strings} for LANGS, [(package, version)] read)."""
    held = {t for texts in heldout_texts("all").values() for t in texts}      # never train on a held-out text
    pools: dict[str, set[str]] = defaultdict(set)
    read = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, root in unpack(pkg_dir, Path(tmp)).items():
            if name not in PACKAGES:
                continue
            deb = next(pkg_dir.glob(f"{name}_*.deb"))
            read.append((name, deb.name.split("_")[1].replace("%3a", ":")))
            per_locale = {loc: mo_strings(mos) for loc, mos in gettext_dirs(root).items() if flores_of(loc)}
            # the same translation in SHARED_BY locales of a program: an untranslated copy (English, a name)
            copies = Counter(v for msgs in per_locale.values() for v in set(msgs.values()))
            for loc, msgs in per_locale.items():
                code = flores_of(loc)
                if code not in LANGS:
                    continue
                script = languages.get(code).script
                for v in msgs.values():
                    t = clean(v, name) if copies[v] < SHARED_BY else None
                    if t and t not in held and matches_script(t, script, min_share=0.6):
                        pools[code].add(t)
    return pools, sorted(read)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pkg_dir", type=Path, nargs="?", help="folder holding the .deb files")
    ap.add_argument("out", type=Path, nargs="?", help="folder to write <code>.txt into (mixkit/data/ui_text)")
    ap.add_argument("--per-lang", type=int, default=3000)
    ap.add_argument("--packages", action="store_true", help="print the package names to download, and stop")
    a = ap.parse_args()
    if a.packages:
        print(" ".join(PACKAGES))
        return
    if a.pkg_dir is None or a.out is None:
        ap.error("give the folder of .deb files and the output folder (or --packages)")
    pools, read = collect(a.pkg_dir)
    missing = set(PACKAGES) - {n for n, _ in read}
    if missing:
        sys.exit(f"missing .deb files in {a.pkg_dir}: {' '.join(sorted(missing))} (see --packages)")
    a.out.mkdir(parents=True, exist_ok=True)
    for code in sorted(LANGS):
        texts = sorted(pools.get(code, ()), key=lambda t: hashlib.sha1(f"{code}\0{t}".encode()).hexdigest())
        n = min(len(texts), a.per_lang * (1 if code in UI_TEXT_LANGS else 2))     # a word model needs more words
        (a.out / f"{code}.txt").write_text("".join(t + "\n" for t in texts[:n]), encoding="utf-8")
        print(f"{code}: {n} of {len(texts)} strings")
    (a.out / "SOURCES.tsv").write_text("package\tversion\n" + "".join(f"{n}\t{v}\n" for n, v in read), encoding="utf-8")


if __name__ == "__main__":
    main()
