"""The audit's gallery: a few thumbnails with their text per language, chosen deterministically,
thumbnails made only for the chosen samples, and rendered safely in the HTML report."""
from __future__ import annotations

import base64
import io

import xxhash
from PIL import Image

from mixkit.audit import gallery as audit_gallery
from mixkit.audit import audit_shards
from mixkit.core.schema import make_row
from mixkit.core.shard_writer import ShardWriter

TEXTS = {"deu_Latn": "Ein Hund läuft über die Wiese.", "arb_Arab": "كلب يركض عبر المرج الأخضر.",
         "jpn_Jpan": "犬が緑の草原を走っています。"}


def _jpeg(i: int, size=(400, 300)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, ((37 * i) % 256, (91 * i) % 256, 120)).save(buf, "JPEG")
    return buf.getvalue()


def _shards(root, hostile: bool = True):
    rows = []
    for i in range(60):
        lang = list(TEXTS)[i % 3]
        text = f"{TEXTS[lang]} ({i})"
        if hostile and i == 4:
            text = "<script>alert(1)</script> & \"quotes\""
        image = b"\xff\xd8\xff\xe0not really a jpeg" if hostile and i == 7 else _jpeg(i)
        rows.append(make_row(source="captions", origin_id=str(i), task="caption" if i % 2 else "ocr", lang=lang,
                             images=[image], messages=[{"role": "user", "content": "<image>\nDescribe."},
                                                       {"role": "assistant", "content": text}]))
    with ShardWriter(root, max_samples=25) as w:
        w.write_all(rows)
    return rows, sorted(str(p) for p in root.glob("*.tar"))


def test_gallery_is_deterministic_small_and_per_task(tmp_path, monkeypatch):
    rows, shards = _shards(tmp_path / "s")
    made = []
    real = audit_gallery.thumbnail
    monkeypatch.setattr(audit_gallery, "thumbnail", lambda data, px=160: made.append(1) or real(data, px))
    g = audit_shards(shards, workers=1, progress=False).to_dict()["gallery"]
    assert set(g) == set(TEXTS)
    assert len(made) <= 4 * len(TEXTS)                        # thumbnails only for the kept few
    h = lambda r: xxhash.xxh3_64_intdigest(r["id"].encode())  # noqa: E731
    for lang, items in g.items():
        assert len(items) == 4
        mine = [r for r in rows if r["lang"] == lang]
        # round-robin over tasks: the two smallest hashes of each task
        want = set()
        for task in ("ocr", "caption"):
            want |= {r["id"] for r in sorted((r for r in mine if r["task"] == task), key=h)[:2]}
        assert {e["id"] for e in items} == want
        assert {e["task"] for e in items} == {"ocr", "caption"}
        for e in items:
            row = next(r for r in rows if r["id"] == e["id"])
            assert row["messages"][1]["content"] in e["text"]
            if e["thumb"] is not None:
                im = Image.open(io.BytesIO(base64.b64decode(e["thumb"])))
                assert im.format == "JPEG" and max(im.size) <= 160
    # the same choice whatever the shard order or number of workers
    assert audit_shards(shards[::-1], workers=2, progress=False).to_dict()["gallery"] == g


def _chosen_first(monkeypatch, row: dict) -> None:
    """Make `row` a gallery winner: its id hashes to 0, every other id to an odd number."""
    real = xxhash.xxh3_64_intdigest
    monkeypatch.setattr(audit_gallery.xxhash, "xxh3_64_intdigest",
                        lambda b: 0 if b == row["id"].encode() else real(b) | 1)


def test_undecodable_image_is_reported_not_fatal(tmp_path, monkeypatch):
    rows, shards = _shards(tmp_path / "s")
    bad = rows[7]
    _chosen_first(monkeypatch, bad)
    g = audit_shards(shards, workers=1, progress=False).to_dict()["gallery"]
    e = next(e for e in g[bad["lang"]] if e["id"] == bad["id"])
    assert e["thumb"] is None and "cannot decode the image" in e["thumb_error"]
    assert all(x["thumb"] for x in g[bad["lang"]] if x["id"] != bad["id"])


def test_report_shows_the_gallery_escaped_and_direction_aware(tmp_path, monkeypatch):
    rows, shards = _shards(tmp_path / "s")
    _chosen_first(monkeypatch, rows[4])           # the sample whose text is markup
    res = audit_shards(shards, workers=1, progress=False)
    out = res.write_html(tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    assert 'id="gallery"' in page and page.count('class="card"') == 12
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert page.count('dir="auto"') == 12 and 'lang="ar"' in page and 'lang="ja"' in page
    assert page.count("data:image/jpeg;base64,") == sum(1 for v in res.to_dict()["gallery"].values()
                                                        for e in v if e["thumb"])


def test_compressed_shards_get_thumbnails_by_scanning(tmp_path):
    import gzip

    _, shards = _shards(tmp_path / "s", hostile=False)
    gz = []
    for p in shards:                      # offsets of a decompressed stream do not fit the file: scan instead
        out = tmp_path / (p.rsplit("/", 1)[-1] + ".gz")
        out.write_bytes(gzip.compress(open(p, "rb").read(), mtime=0))
        gz.append(str(out))
    plain = audit_shards(shards, workers=1, progress=False).to_dict()["gallery"]
    packed = audit_shards(gz, workers=1, progress=False).to_dict()["gallery"]
    def strip(g):
        return {lang: [{k: v for k, v in e.items() if k != "shard"} for e in es] for lang, es in g.items()}
    assert strip(packed) == strip(plain) and all(e["thumb"] for es in packed.values() for e in es)
