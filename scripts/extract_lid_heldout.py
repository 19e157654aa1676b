"""Build the language check's out-of-domain held-out set from software translations in Debian packages.

The n-gram model of the language check trains on UDHR, wordfreq and CLDR text (mixkit/lang/lid_ngram.py);
this set comes from none of them: the human translations of three programs' user interfaces and
messages, as Debian ships them (bookworm):

- Firefox ESR language packs (`firefox-esr-l10n-<locale>`, MPL-2.0): Fluent/properties/DTD strings;
  en-GB (`firefox-esr-l10n-en-gb`) is the English reference (a string equal to it is untranslated);
- LibreOffice UI translations (`libreoffice-l10n-<locale>`, MPL-2.0): gettext catalogues, msgid is English;
- VLC (`vlc-l10n`, GPL-2.0+/LGPL-2.1+) and Tux Paint (`tuxpaint-data`, GPL-2.0+): gettext catalogues;
- Django (PyPI wheel, BSD-3-Clause): gettext catalogues (the only source here for Igbo);
- for languages none of those five programs has, desktop translations in Debian packages (gettext): GNOME
  (nautilus-data, gedit-common, gnome-desktop3-data, libgtk2.0-common, libgtk-3-common; GPL-2.0+/LGPL-2.1+),
  MATE (caja-common, mate-panel-common, mate-desktop-common; GPL-2.0+/LGPL-2.0+) and Sugar (sugar-session and
  its activities; GPL-2.0+/GPL-3.0+): Hausa, Haitian Creole, Lingala, Maori, Yoruba, Javanese (too few), and
  Cusco Quechua (quz, Southern Quechua like the study's Ayacucho `quy_Latn`, written alike but for the
  ejectives Cusco marks: it stands for quy here);
- for languages still under 20 texts of a kind after those, more Debian desktop packages (FILL_PACKAGES: Synaptic,
  Simple Scan, F-Droid server, Epoptes, Terminator, Navit, MATE and Ayatana applets, GStreamer plugins, ...;
  GPL/LGPL): Tibetan, Somali, Javanese, Latin. None of them is a source of the n-gram model's desktop text
  (scripts/extract_lid_ui_text.py), and those languages do not learn from any.

Strings are cleaned (markup, accelerator keys, product-name placeholders replaced by the name; a
string with any other placeholder is dropped), untranslated strings dropped (equal to the English
one, or the same word for word in SHARED_BY locales of the program), strings copied from another
language's catalogue dropped (a catalogue mostly copied, like Tux Paint's Marathi, which holds Hindi,
is left out whole: `drop_copied`), and cut into two
kinds per language: `sentence` (>= 6 words, or >= 15 characters in scripts written without
spaces) and `short` (3-8 words, or 5-20 characters without spaces). Up to --per-kind of each are
drawn per language, alternating between the sources, in a seeded order.

    mkdir -p /tmp/l10n && cd /tmp/l10n && apt-get download vlc-l10n tuxpaint-data \
        $(apt-cache search -n '^(firefox-esr|libreoffice)-l10n-' | awk '{print $1}' | grep -v -e -all -e -common)
    apt-get download nautilus-data gedit-common gnome-desktop3-data libgtk2.0-common libgtk-3-common \
        caja-common mate-panel-common mate-desktop-common sugar-session sugar-browse-activity \
        sugar-calculate-activity sugar-chat-activity sugar-imageviewer-activity sugar-jukebox-activity \
        sugar-log-activity sugar-memorize-activity sugar-pippy-activity sugar-read-activity
    apt-get download $(python scripts/extract_lid_heldout.py --fill-packages)
    pip download --no-deps -d /tmp/l10n django==5.2.19
    python scripts/extract_lid_heldout.py /tmp/l10n benchmarks/data/lid_heldout.tsv.gz

Writes a gzipped TSV: lang, kind, source, text (see benchmarks/data/README.md).
"""
from __future__ import annotations

import argparse
import gettext
import gzip
import hashlib
import html
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mixkit.lang import languages  # noqa: E402
from mixkit.lang.writing_systems import SPACELESS_SCRIPTS, matches_script  # noqa: E402

# Locale -> FLORES code where the plain lookup of the locale's language is wrong or ambiguous.
LOCALES = {"pt-pt": "por_Latn", "pt_PT": "por_Latn", "es-es": "spa_Latn", "ga-ie": "gle_Latn", "nb-no": "nob_Latn",
           "nb": "nob_Latn", "sv-se": "swe_Latn", "hi-in": "hin_Deva", "pa-in": "pan_Guru", "pa": "pan_Guru",
           "zh-tw": "zho_Hant", "zh_TW": "zho_Hant", "sr": "srp_Cyrl", "uz": "uzn_Latn", "ms": "zsm_Latn",
           "fa": "pes_Arab", "ar": "arb_Arab", "lv": "lvs_Latn", "sq": "als_Latn", "sw": "swh_Latn",
           "en-gb": "eng_Latn", "en_GB": "eng_Latn", "my": "mya_Mymr", "sc": "srd_Latn", "et": "est_Latn",
           "as": "asm_Beng", "am": "amh_Ethi", "mr": "mar_Deva", "ne": None, "az": None,  # az: North Azerbaijani (Latin), not azb
           "sm": "smo_Latn", "quz": "quy_Latn", "az_IR": "azb_Arab", "ak": "twi_Latn", "tw": "twi_Latn", "sd": "snd_Arab"}  # Tux Paint: Akan (ak) and Twi (tw)
# The five programs the set was first drawn from; other packages (GNOME, MATE, GTK, Sugar, KDE translations)
# only add languages none of them has.
PROGRAMS = {"firefox", "libreoffice", "vlc", "tuxpaint", "django"}
# More desktop packages, only for languages the others leave under MIN_TEXTS texts of a kind (the benchmark's
# threshold): they fill languages that had none, and change no other language's texts.
FILL_PACKAGES = (
    "synaptic", "simple-scan", "transmission-gtk", "deja-dup", "lightdm-gtk-greeter", "slick-greeter",
    "arctica-greeter", "pluma-common", "terminator", "navit-data", "policycoreutils", "apparmor-utils",
    "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-bad", "konversation-data", "python3-django-mailman3",
    "python3-django-postorius", "python3-django-hyperkitty", "ayatana-indicator-datetime",
    "ayatana-indicator-session", "ayatana-indicator-power", "ayatana-settings", "remote-logon-service",
    "onioncircuits", "pyhoca-gui", "librda-common", "libsugarext-data", "epoptes", "gufw",
    "mate-control-center-common", "mate-menu", "mate-tweak", "mintstick", "atril-common", "engrampa-common",
    "mate-terminal-common", "backintime-common", "pychess", "tortoisehg", "viking", "gmpc-data", "command-not-found",
    "fdroidserver", "burner-common", "isomaster", "muffin-common", "mutter-common", "libgtop2-common", "sympa",
)
MIN_TEXTS = 20
SKIP = {"sd@devanagari", "sr@latin", "ks@devanagari", "kok@roman", "mni@meiteimayek", "sat@olchiki", "pt-br", "pt_BR", "es-ar", "es-cl", "es-mx", "es_MX", "zh-cn", "zh_CN", "ca-valencia", "ca@valencia",
        "en-ca", "en-za", "am_ET", "bn_IN", "en-us"}
PRODUCTS = {"-brand-short-name": "Firefox", "-brand-shorter-name": "Firefox", "-brand-full-name": "Mozilla Firefox",
            "-brand-product-name": "Firefox", "-vendor-short-name": "Mozilla", "-brand-shortcut-name": "Firefox"}
_FTL_TERM = re.compile(r"\{\s*(-[\w-]+)\s*\}")
_PLACEHOLDER = re.compile(r"\{|\}|%\(|%\d*\$?[sSdDuif@]|%[1-9]|\$\(|\$[A-Z]|#\d|%[A-Z_]{3,}%?|\\[nt]|<[^>]*$|\[\[")
_TAG = re.compile(r"<[^>]+>")


def flores_of(locale: str) -> str | None:
    if locale in SKIP:
        return None
    if locale in LOCALES:
        return LOCALES[locale]
    code = languages.lookup(re.split(r"[-_@]", locale)[0])
    return code if code and languages.get(code).centurio else None


def clean(text: str, product: str) -> str | None:
    """A UI string as plain text, or None when it holds a placeholder or no words."""
    text = _FTL_TERM.sub(lambda m: PRODUCTS.get(m.group(1), "{"), text)
    text = text.replace("%PRODUCTNAME", product).replace("%productname", product)
    text = html.unescape(_TAG.sub(" ", text))
    if _PLACEHOLDER.search(text):
        return None
    text = text.replace("~", "").replace("&&", "\0").replace("&", "").replace("\0", "&")
    text = re.sub(r"(?<!\w)_(?=\w)", "", text)               # GTK accelerator underscores
    text = " ".join(text.split()).strip(" :")
    if sum(c.isalpha() for c in text) < 2 or "http" in text or "@" in text or "\\" in text:
        return None
    return text


def ftl_messages(data: str) -> dict[str, str]:
    """Fluent messages and attributes: {id or id.attr: value} (select expressions stay as '{': dropped later)."""
    out: dict[str, str] = {}
    key = None
    for line in data.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            key = None if not line.strip() else key
            continue
        m = re.match(r"^([A-Za-z][\w-]*)\s*=\s*(.*)$", line)
        if m:
            base = key = m.group(1)
            out[key] = m.group(2)
            continue
        m = re.match(r"^\s+\.([\w-]+)\s*=\s*(.*)$", line)
        if m and key is not None:
            key = f"{base}.{m.group(1)}"
            out[key] = m.group(2)
            continue
        if key is not None and line.startswith((" ", "\t")):
            out[key] = (out[key] + " " + line.strip()).strip()
    return {k: v for k, v in out.items() if v}


def properties_messages(data: str) -> dict[str, str]:
    out = {}
    for line in data.splitlines():
        if line.strip().startswith(("#", "!")) or "=" not in line:
            continue
        k, _, v = line.partition("=")
        out[k.strip()] = v.strip()
    return out


def dtd_messages(data: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r'<!ENTITY\s+([\w.-]+)\s+"([^"]*)"\s*>', data)}


def firefox_strings(xpi: Path) -> dict[str, str]:
    out = {}
    with zipfile.ZipFile(xpi) as z:
        for name in z.namelist():
            if name.endswith((".ftl", ".properties", ".dtd")):
                data = z.read(name).decode("utf-8", "replace")
                parse = ftl_messages if name.endswith(".ftl") else properties_messages if name.endswith(
                    ".properties") else dtd_messages
                # the same key in every language pack: the locale's folder names replaced
                parts = name.split("/")
                path = "/".join("L" if i and parts[i - 1] in ("localization", "chrome", "locale") else p
                                for i, p in enumerate(parts))
                out.update({f"{path}:{k}": v for k, v in parse(data).items()})
    return out


def mo_strings(paths: list[Path]) -> dict[str, str]:
    """{file:msgid: translation} of gettext catalogues; the header and strings equal to their msgid dropped."""
    out = {}
    for p in paths:
        try:
            cat = gettext.GNUTranslations(io.BytesIO(p.read_bytes()))._catalog
        except (IndexError, ValueError, OSError) as e:          # a malformed header (Plural-Forms without plural=)
            print(f"skipped {p.name} ({p.parent.parent.name}): {e!r}", file=sys.stderr)
            continue
        for key, value in cat.items():
            full = key[0] if isinstance(key, tuple) else key                    # plural: (msgid, n)
            msgid = full.split("\x04", 1)[-1]
            if isinstance(value, str) and value and msgid and value != msgid:
                out[f"{p.name}:{full}:{key[1] if isinstance(key, tuple) else ''}"] = value
    return out


def unpack(pkg_dir: Path, work: Path) -> dict[str, Path]:
    """Every .deb (dpkg-deb -x) and .whl (a zip) in pkg_dir unpacked under work: {package name: root}."""
    roots = {}
    for pkg in sorted(pkg_dir.glob("*.deb")) + sorted(pkg_dir.glob("*.whl")):
        name = pkg.name.split("_", 1)[0] if pkg.suffix == ".deb" else pkg.name.split("-", 1)[0].lower()
        target = work / name
        if pkg.suffix == ".deb":
            subprocess.run(["dpkg-deb", "-x", str(pkg), str(target)], check=True)
        else:
            zipfile.ZipFile(pkg).extractall(target)
        roots[name] = target
    return roots


def gettext_dirs(root: Path) -> dict[str, list[Path]]:
    """{locale: [.mo files]} of a gettext tree (usr/share/locale/<loc>/LC_MESSAGES, django/**/locale/<loc>/...)."""
    out: dict[str, list[Path]] = defaultdict(list)
    for mo in sorted(root.rglob("LC_MESSAGES/*.mo")):
        out[mo.parent.parent.name].append(mo)
    return out


# A translation found word for word in this many locales of one program is an untranslated copy (US
# English in a language pack checked against en-GB, developer-tool strings no team translated).
SHARED_BY = 3


def collect(pkg_dir: Path) -> tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, list[str]]]]:
    """({flores: {source: [clean strings]}}, the same from FILL_PACKAGES, for every language they have)."""
    by_source: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)    # source -> locale code -> {key: text}
    with tempfile.TemporaryDirectory() as tmp:
        roots = unpack(pkg_dir, Path(tmp))
        for name, root in roots.items():
            if name.startswith("firefox-esr-l10n-"):
                locale = name.removeprefix("firefox-esr-l10n-")
                if locale == "en-gb" or flores_of(locale):
                    by_source["firefox"][locale] = firefox_strings(next(root.rglob("*.xpi")))
                continue
            source = "libreoffice" if name.startswith("libreoffice-l10n-") else name.removesuffix("-l10n").removesuffix("-data")
            for locale, mos in gettext_dirs(root).items():
                if flores_of(locale):
                    by_source[source][locale] = mo_strings(mos)
    pools: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    fills: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    covered = {flores_of(loc) for src, locales in by_source.items() if src in PROGRAMS for loc in locales} - {None}
    for source, locales in sorted(by_source.items()):
        product = {"firefox": "Firefox", "libreoffice": "LibreOffice", "vlc": "VLC", "tuxpaint": "Tux Paint"}.get(source, source)
        english = locales.get("en-gb", {})
        copies: dict[tuple[str, str], int] = defaultdict(int)
        for msgs in locales.values():
            for k, v in msgs.items():
                copies[(k, v)] += 1
        locales = drop_copied(source, locales, copies, english)
        fill = source in {n.removesuffix("-l10n").removesuffix("-data") for n in FILL_PACKAGES}
        if source not in PROGRAMS and not fill:    # desktop packs: only for languages the five programs lack
            locales = {loc: msgs for loc, msgs in locales.items() if flores_of(loc) not in covered}
        for locale, msgs in sorted(locales.items()):
            code = flores_of(locale)
            if not code:
                continue
            texts = [v for k, v in msgs.items()
                     if code == "eng_Latn" or (english.get(k) != v and copies[(k, v)] < SHARED_BY)]
            (fills if fill else pools)[code][source] += [t for t in (clean(v, product) for v in texts) if t]
    return pools, fills


def filled(pools: dict[str, dict[str, list[str]]], fills: dict[str, dict[str, list[str]]],
           per_kind: int) -> list[tuple[str, str, str, str]]:
    """The drawn texts, FILL_PACKAGES' strings added for the languages left under MIN_TEXTS texts of a kind."""
    rows = draw(pools, per_kind)
    counts = Counter((r[0], r[1]) for r in rows)
    short = {code for code in set(pools) | set(fills) if min(counts[(code, k)] for k in ("sentence", "short")) < MIN_TEXTS}
    for code in sorted(short & set(fills)):
        for source, texts in fills[code].items():
            pools.setdefault(code, {}).setdefault(source, []).extend(texts)
    return draw(pools, per_kind)


# A catalogue in which this share of the strings is, word for word, another language's translation of the same
# string was filled from that language (Tux Paint's Marathi holds Hindi): it is left out whole. Which of the two
# copied is not known, so both are (Tux Paint's Hindi too; Hindi has text from four other programs).
COPIED_CATALOGUE = 0.2


def drop_copied(source: str, locales: dict[str, dict[str, str]], copies: dict[tuple[str, str], int],
                english: dict[str, str]) -> dict[str, dict[str, str]]:
    """The catalogues without strings copied from another language (close pairs, written the same, excepted);
    a catalogue mostly copied is dropped whole, and said so. Only strings the set would keep count: not the
    English one, and in fewer than SHARED_BY locales (those are untranslated copies, dropped anyway)."""
    from mixkit.lang.lid import is_close

    def counted(k: str, v: str) -> bool:     # names and terms ("Firefox Sync") are the same in many languages
        long = len(v.split()) >= 3 or (" " not in v.strip() and len(v) >= 15)
        return long and english.get(k) != v and copies[(k, v)] < SHARED_BY

    by_key: dict[tuple[str, str], set[str]] = defaultdict(set)          # (key, text) -> languages
    for loc, msgs in locales.items():
        for k, v in msgs.items():
            if counted(k, v):
                by_key[(k, v)].add(flores_of(loc) or loc)
    out = {}
    for loc, msgs in locales.items():
        code = flores_of(loc) or loc
        if code == "eng_Latn":
            out[loc] = msgs
            continue
        phrases = [k for k, v in msgs.items() if counted(k, v)]
        copied = {k for k in phrases if any(c != code and not is_close(code, c) for c in by_key[(k, msgs[k])])}
        if phrases and len(copied) >= COPIED_CATALOGUE * len(phrases):
            print(f"left out {source} {loc}: {len(copied)} of its {len(phrases)} phrases are another language's",
                  file=sys.stderr)
            continue
        out[loc] = {k: v for k, v in msgs.items() if k not in copied}
    return out


def kind_of(text: str, spaceless: bool) -> set[str]:
    if spaceless:
        n = sum(not c.isspace() for c in text)
        return ({"sentence"} if 15 <= n <= 300 else set()) | ({"short"} if 5 <= n <= 20 else set())
    words = len(text.split())
    return ({"sentence"} if words >= 6 and len(text) <= 400 else set()) | ({"short"} if 3 <= words <= 8 else set())


def _order(text: str, seed: str) -> str:
    return hashlib.sha1(f"{seed}\0{text}".encode()).hexdigest()


def draw(pools: dict[str, dict[str, list[str]]], per_kind: int) -> list[tuple[str, str, str, str]]:
    rows = []
    for code in sorted(pools):
        script = languages.get(code).script
        spaceless = script in SPACELESS_SCRIPTS
        seen: set[str] = set()
        by_kind: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for source in sorted(pools[code]):
            for t in sorted(set(pools[code][source]), key=lambda t: _order(t, code)):
                # in the language's own script (a UI string left in English inside a translated catalogue is not)
                if t in seen or not matches_script(t, script, min_share=0.6):
                    continue
                seen.add(t)
                for kind in kind_of(t, spaceless):
                    by_kind[kind][source].append(t)
        for kind in ("sentence", "short"):
            queues = {s: list(v) for s, v in sorted(by_kind[kind].items())}
            taken = 0
            while taken < per_kind and any(queues.values()):      # alternate between the sources
                for source, q in queues.items():
                    if q and taken < per_kind:
                        rows.append((code, kind, source, q.pop(0)))
                        taken += 1
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pkg_dir", type=Path, nargs="?", help="folder holding the .deb files and the Django wheel")
    ap.add_argument("out", type=Path, nargs="?")
    ap.add_argument("--per-kind", type=int, default=300)
    ap.add_argument("--fill-packages", action="store_true", help="print FILL_PACKAGES (to download), and stop")
    a = ap.parse_args()
    if a.fill_packages:
        print(" ".join(FILL_PACKAGES))
        return
    if a.pkg_dir is None or a.out is None:
        ap.error("give the folder of packages and the output file (or --fill-packages)")
    rows = filled(*collect(a.pkg_dir), a.per_kind)
    buf = "lang\tkind\tsource\ttext\n" + "".join("\t".join(r) + "\n" for r in rows)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(a.out, "wb", mtime=0) as fh:           # mtime 0: the same input gives the same bytes
        fh.write(buf.encode("utf-8"))
    langs = {r[0] for r in rows}
    print(f"{len(rows)} texts, {len(langs)} languages -> {a.out}")


if __name__ == "__main__":
    main()
