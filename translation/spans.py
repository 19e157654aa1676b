"""What inside a line is not prose: inline spans kept away from the model (each with its kind,
counted by the dry run), emphasis pairs, labels that separate answer choices, and lines of code."""
from __future__ import annotations

import re

# Chat-template, vision and grounding tokens of open LVLMs: the one list. They are markup the
# model must never see (a `|` inside them is no table cell, a `<` no HTML).
SPECIAL_TOKENS: dict[str, tuple[str, ...]] = {
    "Qwen2-VL / Qwen2.5-VL": (
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
        "<|image_pad|>", "<|video_pad|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
        "<|box_end|>", "<|quad_start|>", "<|quad_end|>"),
    "InternVL": ("<img>", "</img>", "<IMG_CONTEXT>", "<ref>", "</ref>", "<box>", "</box>", "<quad>", "</quad>"),
    "LLaVA / LLaVA-NeXT": ("<image>", "<video>", "<im_start>", "<im_end>", "<im_patch>", "<s>", "</s>",
                           "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"),
    "Kosmos-2": ("<grounding>", "<phrase>", "</phrase>", "<object>", "</object>", "<delimiter_of_multi_objects/>",
                 "<patch_index_NNNN>"),          # NNNN: four digits (0000-1023)
    "Llama 3": ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    "MiniGPT-v2": ("[vqa]", "[caption]", "[grounding]", "[refer]", "[detection]", "[identify]"),
}
# Grounding pairs whose content is data (coordinates, patch indices): one span from open to close.
GROUNDING_PAIRS: tuple[tuple[str, str], ...] = (
    ("<|box_start|>", "<|box_end|>"), ("<|quad_start|>", "<|quad_end|>"), ("<box>", "</box>"),
    ("<quad>", "</quad>"), ("<object>", "</object>"))


def _token_pattern() -> str:
    toks = sorted({t for group in SPECIAL_TOKENS.values() for t in group}, key=len, reverse=True)
    alts = [re.escape(t).replace("NNNN", r"\d{4}") for t in toks]
    roles = r"<\|im_start\|>(?:system|user|assistant)\b|<\|start_header_id\|>\w+<\|end_header_id\|>"   # with the role
    return "|".join([roles] + alts + [r"<\|[A-Za-z0-9_]+\|>"])     # any other `<|name|>` of that family


_NUM = r"-?\d+(?:\.\d+)?"
# Math written in Unicode, without LaTeX (Geo170K, MathV360K): "∠B = (180° − 40°) ÷ 2 = 70°",
# "OC ⊥ AB", "a ∥ b": operands (numbers, point names of 1-4 capitals, one-letter variables, with
# brackets, √ ∠ △ ⊙ and °, ², %) joined by operators, at least one of them a relation; and a
# lone symbol with its operand ("⊙O", "∠ABC", "√2").
_REL = "=\u2248\u2260\u2264\u2265\u22a5\u2225\u2245\u223d\u2261"        # = ≈ ≠ ≤ ≥ ⊥ ∥ ≅ ∽ ≡
_MSYM = "\u221a\u2220\u25b3\u2299"                                       # √ ∠ △ ⊙
_OPERAND = (rf"[(\[{_MSYM}\u2212+-]*(?:\d+(?:[.,]\d+)*|[A-Z]{{1,4}}|[a-z\u03b1-\u03c9])"
            r"[\u00b0%\u00b2\u00b3\u2032'\d]*[)\]]*(?![A-Za-z0-9])")
_ARITH = r"\s*[+\u2212\-\u00d7\u00f7*/\u00b7]\s*|(?<=\d)\s(?=[A-Z]{2,4}(?![A-Za-z0-9]))"     # also "1/2 AB"
_EQUATION = (rf"(?<![\w{_MSYM}(\[]){_OPERAND}(?:(?:{_ARITH}){_OPERAND})*\s*[{_REL}]\s*{_OPERAND}"
             rf"(?:(?:{_ARITH}|\s*[{_REL}]\s*){_OPERAND})*"
             rf"|(?<!\w)[{_MSYM}]\s?(?:[A-Z]{{1,4}}|\d+|\([^()\n]{{1,40}}\))[\u00b0\u00b2\u00b3\d]*")
# top-level domains that end a bare domain ("example.com"); none is a word that ends a sentence
_TLDS = "com|org|net|edu|gov|io|ai|dev|app|info|co\\.uk|org\\.uk|ac\\.uk|co|de|fr|jp|cn|ru|eu|tv|ly|xyz"
_PATH_CHAR = r"[\w.@+~-]"
# (kind, gate characters, pattern) in priority order: at one position the first kind that
# matches wins. A pattern is only tried on a text that holds one of its gate characters (one
# regex of all the patterns is slow: it tries every alternative at every position).
INLINE: list[tuple[str, tuple[str, ...], str]] = [
    ("code", ("`",), r"``[^`\n]+``|`[^`\n]+`"),
    ("grounding", ("<",), "|".join(rf"{re.escape(a)}(?:[^<>\n]|<patch_index_\d{{4}}>|<delimiter_of_multi_objects/>)"
                                   rf"*?{re.escape(b)}" for a, b in GROUNDING_PAIRS)
     + r"|\{<\d{1,3}><\d{1,3}><\d{1,3}><\d{1,3}>\}(?:<delim>\{<\d{1,3}><\d{1,3}><\d{1,3}><\d{1,3}>\})*"),  # MiniGPT-v2
    ("special_token", ("<", "["), _token_pattern()),
    ("math", ("$", "\\"), r"\$\$[^\n]+?\$\$|\\\(.+?\\\)|\\\[.+?\\\]"
             # $...$ as pandoc reads it: no space inside either dollar, closing one not before a digit,
             # so prices ("$5 and $10", "$5-$10") are prose. Spaced `$ x $` is found by _dollar_math.
             r"|(?<![\\$\w])\$(?=[^\s$])(?:\\.|[^$\n\\])+?(?<![\s\\])\$(?![\w$])"),
    ("tag", ("<",), r"<!--.*?-->"                                                  # HTML comment
                    r"|</?[A-Za-z_][\w\-]*\s*/?>"                                     # <image>, </s>, <br/>
                    r"|<[A-Za-z][\w-]*(?:\s+[\w:-]+=(?:\"[^\"]*\"|'[^']*'|[^\s>]+))+\s*/?>"),  # with attributes
    ("link_target", ("]",), r"(?<=\])\([^\s()<>]+\)"),                             # [text](img.png)
    # a URL keeps balanced parentheses (wiki/Cat_(animal)) but not a closing one around it
    ("url", (":", "."), r"(?:https?://|ftp://|www\.)(?:[^\s<>\"'`()\[\]]|\([^\s()<>]*\))*"
            r"(?:[^\s<>\"'`()\[\].,;:!?]|\([^\s()<>]*\))"),
    ("email", ("@",), r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),     # from a word's start: linear
    # C:\Users\x  D:/data, \\server\share, /etc/x ~/a/b, ./run.sh, src/main.py
    ("path", ("/", "\\"), r"(?<![\w\\/])[A-Za-z]:[\\/](?:[^\s\\/:*?\"<>|]+[\\/])*[^\s\\/:*?\"<>|]*"
             r"|(?<![\w\\])\\\\[\w.$-]+(?:\\[^\s\\/:*?\"<>|]+)+"
             rf"|(?<![\w/.:~\\])(?:~|\.{{1,2}})?/{_PATH_CHAR}+(?:/{_PATH_CHAR}+)+/?"
             rf"|(?<![\w/.:~\\])(?:~|\.{{1,2}})/{_PATH_CHAR}+"
             rf"|(?<![\w/.:~\\-])[\w.-]+(?:/[\w.-]+)+\.[A-Za-z][A-Za-z0-9]{{0,5}}\b"),
    ("domain", (".",), rf"(?<![\w@./-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+(?:{_TLDS})(?![\w-])"
               r"(?:/[^\s<>\"'`()\[\]]*[^\s<>\"'`()\[\].,;:!?])?"),
    ("footnote", ("[",), r"\[\^[^\]\s]{1,20}\]"                                     # [^1] [^note]
                         r"|(?<=[.!?\"'\u201d])\[\d{1,3}\](?![(\[])"),                 # true.[2]
    ("keycap", ("\u20e3", "\U0001F51F"), "[0-9#*]\ufe0f?\u20e3|\U0001F51F"),         # 1️⃣ ... 🔟
    # "drone images [1].", "earlier work [2, 3]": a citation after a word (1-3 numbers or a range)
    ("citation", ("[",), r"\[(?<=[^\W_)] \[)\d{1,3}(?:\s*[,\u2013-]\s*\d{1,3}){0,2}\](?![(\[:])"),
    ("coordinates", ("[", "("), r"\[\s*\[[\d\s.,\-\[\]]+\]\s*\]"                     # nested coordinate lists
                                rf"|\[\s*{_NUM}(?:\s*,\s*{_NUM})+\s*\]|\(\s*{_NUM}(?:\s*,\s*{_NUM})+\s*\)"),
    # bare LaTeX outside dollars: 16\pi  30^\circ  \frac{3}{8}
    ("math", ("\\",), r"(?<![\w\\$])(?:\d+(?:\.\d+)?\^?)?\\(?:frac|dfrac|tfrac|sqrt|pi|theta|alpha|beta|gamma|delta|"
             r"lambda|mu|sigma|omega|phi|infty|circ|angle|triangle|cdot|times|div|pm|leq|geq|neq|approx|"
             r"degree|overline|vec|hat|log|ln|sin|cos|tan|sum|int|prod|binom|text|mathrm|mathbf)(?![A-Za-z])"
             r"(?:\s*\{(?:[^{}\n]|\{[^{}\n]*\})*\})*(?:[\^_](?:\{(?:[^{}\n]|\{[^{}\n]*\})*\}|\w))*"),
    ("math", tuple(_REL + _MSYM), _EQUATION),
    # snake_case names outside backticks ("set learning_rate to", "Network: Cafe_5G")
    ("identifier", ("_",), r"[A-Za-z](?<![\w./\\-][A-Za-z])[\w.]*_[\w.]*[A-Za-z0-9](?![\w/\\-])"),
]


def _gate_index() -> dict[str, set[int]]:
    """Gate character -> the INLINE entries it lets through."""
    out: dict[str, set[int]] = {}
    for i, (_, gates, _) in enumerate(INLINE):
        for c in gates:
            out.setdefault(c, set()).add(i)
    return out


_GATED = _gate_index()
_SPAN_REGEX: dict[tuple[int, ...], re.Pattern] = {}


def _span_regex(text: str) -> re.Pattern | None:
    """One regex of the patterns whose gate the text holds (group k<i>: INLINE[i]), cached."""
    key = tuple(sorted({i for c in _GATED.keys() & set(text) for i in _GATED[c]}))
    if not key:
        return None
    rx = _SPAN_REGEX.get(key)
    if rx is None:
        rx = _SPAN_REGEX[key] = re.compile("|".join(f"(?P<k{i}>{INLINE[i][2]})" for i in key))
    return rx


# TextVQA's "Reference OCR token: COCA, COLA, 330ml": the image's own words, data (kept outside)
_OCR_TOKENS = re.compile(r"OCR tokens?: ([^\n]+)")
_PRICE_LIKE = re.compile(r"\d[\d.,]*\s+\w")           # "$5 and 10$": money, not math
_TRAILING = ".,;:!?"                                   # never the last character of a path
EDGE_KINDS = frozenset({"tag", "special_token", "grounding", "footnote", "keycap", "ocr_tokens"})   # outside a sentence at its edges

# `$ \frac{3}{8} $`: dollars with spaces inside are math when what they hold reads as math
_MATHY = re.compile(r"\\[A-Za-z]+|[\^_{}=<>]|(?<![A-Za-z])[A-Za-z]\s*[-+*/]\s*[\w(]")
_WORDS3 = re.compile(r"(?<!\\)\b[A-Za-z]{3,}\s+[A-Za-z]{3,}\s+[A-Za-z]{3,}\b")
_JSON_START = re.compile(r"[\[{](?=\s*[{\"])")

_EMPH = re.compile(r"(\*\*|__)(?=[^\s*_])(.+?)(?<=[^\s*_])\1|(?<![*\w])(\*)(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![*\w])")


def find_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of protected inline spans, in order, not overlapping."""
    return [(a, b) for a, b, _ in classify_spans(text)]


def classify_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of protected inline spans, in order, not overlapping."""
    out = []
    rx = _span_regex(text)
    for m in rx.finditer(text) if rx else ():
        kind = INLINE[int(m.lastgroup[1:])][0]
        a, b = m.start(), m.end()
        if kind == "math" and text[a] == "$" and text[a + 1] != "$" and _PRICE_LIKE.match(text, a + 1):
            continue
        if kind in ("path", "domain"):
            while b > a and text[b - 1] in _TRAILING:
                b -= 1
            if a and text[a - 1] in "'\"" and text[b - 1] == text[a - 1]:
                b -= 1                             # 'C:\Users\x': the closing quote is not the path's
        out.append((a, b, kind))
    extra = []
    if "$" in text:
        extra += _dollar_math(text, out)
    if "OCR token" in text:
        extra += [(m.start(1), m.end(1), "ocr_tokens") for m in _OCR_TOKENS.finditer(text)]
    if '"' in text:
        extra += _inline_json(text)
    return _merge(out, extra) if extra else out


def _merge(found: list[tuple[int, int, str]], extra: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans of both lists, earliest first and the longer one at the same start; a span that
    overlaps one already taken is dropped."""
    out: list[tuple[int, int, str]] = []
    for a, b, kind in sorted(found + extra, key=lambda s: (s[0], -s[1])):
        if out and a < out[-1][1]:
            continue
        out.append((a, b, kind))
    return out


def _dollar_math(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """`$ x^2 $` and `$ \\frac{3}{8} $`: a pair of single dollars with a space inside one of them
    whose content reads as math (a command, ^ _ { } =, or a variable with an operator) and not
    as prose or a price. Each dollar outside the spans already found is tried as an opening
    one, so '$5 and $ x $' finds `$ x $`."""
    taken = {i for a, b, _ in found for i in range(a, b) if text[i] == "$"}
    dollars = [i for i, c in enumerate(text) if c == "$" and (i == 0 or text[i - 1] not in "\\$")
               and text[i + 1:i + 2] != "$" and i not in taken]
    out = []
    k = 0
    while k + 1 < len(dollars):
        a, b = dollars[k], dollars[k + 1]
        inner = text[a + 1:b]
        spaced = inner[:1].isspace() or inner[-1:].isspace()
        if spaced and inner.strip() and "\n" not in inner and (a == 0 or not text[a - 1].isalnum()) and \
                not text[b + 1:b + 2].isalnum() and _MATHY.search(inner) and not _WORDS3.search(inner) and \
                not _PRICE_LIKE.match(inner):
            out.append((a, b + 1, "math"))
            k += 2
        else:
            k += 1
    return out


def _inline_json(text: str) -> list[tuple[int, int, str]]:
    """`{"answer": "<your answer>", ...}` inside a sentence (a JSON template): from the brace to
    its match, strings respected; kept only when it opens with a quoted key (or a list of such
    objects), so braces in prose stay prose."""
    out = []
    pos = 0
    closes = None
    while True:
        m = _JSON_START.search(text, pos)
        if not m:
            return out
        a = m.start()
        closes = closes if closes is not None else _bracket_pairs(text)
        end = closes.get(a, 0)
        if end and _JSON_KEY.match(text, a, end):
            out.append((a, end, "json"))
            pos = end
        else:
            pos = a + 1


_JSON_KEY = re.compile(r"[\[{]\s*(?:\{\s*)?\"[^\"\n]*\"\s*:")


def _bracket_pairs(text: str) -> dict[int, int]:
    """Opening bracket offset -> end (exclusive) of its match, for [] and {} outside double-quoted
    strings, in one pass (a line holding many unmatched braces stays linear)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    in_str = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            stack.append(i)
        elif c in "]}" and stack:
            pairs[stack.pop()] = i + 1
        elif c == "\n":
            stack.clear()
            in_str = False
        i += 1
    return pairs


def emphasis_pairs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, marker) of `**x**`, `__x__`, `*x*` in text."""
    out = []
    for m in _EMPH.finditer(text):
        out.append((m.start(), m.end(), m.group(1) or m.group(3)))
    return out


# -- labels of answer choices and list items ---------------------------------------------------
_ROMAN = re.compile(r"(?i)x{0,3}(?:ix|iv|v?i{0,3})")      # 1-39: list numbering, not "MIX"
_LABEL = re.compile(r"(?<!\S)(?:\(([A-Za-z]|[ivxIVX]{2,6})\)|([A-Za-z]|[ivxIVX]{2,6})[.)])\s+")    # a letter or roman


def roman_value(s: str) -> int:
    """Value of a roman numeral up to 39 (i..xxxix, either case), else 0."""
    if not s or not _ROMAN.fullmatch(s) or not (s.islower() or s.isupper()):
        return 0
    vals = {"i": 1, "v": 5, "x": 10}
    s = s.lower()
    total = 0
    for i, c in enumerate(s):
        v = vals[c]
        total += -v if i + 1 < len(s) and vals[s[i + 1]] > v else v
    return total


def label_readings(label: str, paren: bool, closer: str) -> list[tuple[str, int]]:
    """The sequences a list label can belong to, with its position: ("A" -> [("upper", 1)],
    "(i)" -> [("lower", 9), ("lower_roman", 1)], "II." -> [("upper_roman", 2)]). Lower-case
    letters count only as "(a)" or "a)" ("a." is a word), like the single options before."""
    out = []
    if len(label) == 1:
        if label.isupper():
            out.append(("upper", ord(label) - 64))
        elif paren or closer == ")":
            out.append(("lower", ord(label) - 96))
    r = roman_value(label)
    if r:
        out.append(("upper_roman" if label.isupper() else "lower_roman", r))
    return out


_RUN_OPENS_AFTER = re.compile(r"(?:^|[:?!.\uff1a\uff1f\ue000])\s*$")     # start, "Options:", "...?", a span


def option_cuts(text: str) -> list[tuple[int, int]]:
    """Labels of answer choices written on one line ("A. cat B. dog", "(a) x (b) y", "(i) x
    (ii) y"): kept when they form a run 1, 2, ... (at least two) of one sequence (letters, any
    number of them, or roman numerals) with text between them ("A. B. Smith" is a name), whose
    first label opens the line or follows a colon or a sentence end ("Statements (i) and (iii)
    are true" refers to options, it lists none); each label with its trailing space."""
    best: list[tuple[int, int]] = []
    chains: dict[str, list[tuple[int, int]]] = {}
    for m in _LABEL.finditer(text):
        label = m.group(1) or m.group(2)
        closer = text[m.end(2)] if m.group(2) else ")"
        for seq, n in label_readings(label, bool(m.group(1)), closer):
            chain = chains.get(seq, [])
            if n == 1:
                if not _RUN_OPENS_AFTER.search(text, max(0, m.start() - 40), m.start()):
                    chains[seq] = []
                    continue
                chain = [(m.start(), m.end())]
            elif len(chain) == n - 1 and m.start() > chain[-1][1]:      # an option between two labels
                chain = chain + [(m.start(), m.end())]
            else:
                continue
            chains[seq] = chain
            if len(chain) > len(best):
                best = chain
    return best if len(best) >= 2 else []


# one regex: statement shapes that only code takes, then (group "shape") ones that prose can
# also take ("E = mc² is famous.", "AB = AC, so the triangle is"): those are code only without a
# run of three words outside their string literals
_CODE_STRICT = re.compile(
    r"^(?:def|class)\s+\w+.*:$"
    r"|^import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+)*;?$"
    r"|^from\s+[\w.]+\s+import\s+.+$"
    r"|^(?:for|while|if|elif|with)\s.*[=<>()\[\]].*:$|^(?:else|try|finally|except.*):$"
    r"|^\)\s*\{$|^[{}\[\]()]+;?$"
    r"|^#include\b|^#!/|^<\?php|^SELECT\s.+\sFROM\s"
    r"|(?P<shape>^(?:return|yield|raise|print|printf|console\.log|System\.out\.\w+|echo|let|const|var|int|void|fn|pub"
    r"|func)\b.*[=();{]"
    r"|^[A-Za-z_][\w.\[\]'\"]*\s*(?:=|\+=|-=|\*=|/=|==)\s*\S.*$"
    r"|^[A-Za-z_][\w.]*\(.*\)\s*;?$"
    r"|^.*=.*;$|^.*\w\(.*\)\s*;$|^.*\)\s*\{$)"
)
_STRING_LITERAL = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")
_WORD_RUN = re.compile(r"(?:(?<![\w.])[^\W\d_]{2,}[,;]?\s+){2}[^\W\d_]{2,}(?![\w(])")
_INLINE_CODE = re.compile(r"``[^`\n]+``|`[^`\n]+`")
_BULLET = re.compile(r"(?:[-*+\u2022]|\d{1,3}[.)])\s+")
_SYMBOLS = set("=(){}[];<>_/\\*+-#\"'.:,&|!%")


def is_code_line(line: str, relaxed: bool = False) -> bool:
    """Whether one line is source code. Strict (an unindented line amid prose): a statement shape
    (inline code and a list bullet are no evidence: "- a pin (`numpy==1.21`);" is prose);
    relaxed (a line of an indented block): also any line dense in symbols or with a call."""
    s = line.strip()
    if not s:
        return False
    if not relaxed:
        if "`" in s:
            s = _INLINE_CODE.sub("x", s)
        item = _BULLET.match(s)
        if item:
            s = s[item.end():]
    m = _CODE_STRICT.match(s)
    if m and not (m.group("shape") and _WORD_RUN.search(_STRING_LITERAL.sub("x", s) if ("'" in s or '"' in s) else s)):
        return True
    if not relaxed:
        return False
    if re.search(r"\w\(.*\)|[=;{}]", s):
        return True
    return sum(c in _SYMBOLS for c in s) / len(s) > 0.25
