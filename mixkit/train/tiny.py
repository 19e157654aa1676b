"""Offline building blocks for the `tiny` config and the tests: a byte-level BPE tokenizer
trained locally (ChatML template, `<image>` token) and small multilingual shards with real
images whose captions depend on the picture (so a tiny model can lower its loss).
"""
from __future__ import annotations

import io
import random
from pathlib import Path

from mixkit.core.schema import IMAGE_TOKEN, make_row

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>", IMAGE_TOKEN]

# colour -> (RGB, {FLORES code: word}); captions name the colour and the shape of the picture.
COLOURS = {
    "red": ((220, 30, 30), {"eng_Latn": "red", "deu_Latn": "rot", "fra_Latn": "rouge", "rus_Cyrl": "красный",
                            "zho_Hans": "红色", "arb_Arab": "أحمر", "hin_Deva": "लाल"}),
    "green": ((30, 180, 60), {"eng_Latn": "green", "deu_Latn": "grün", "fra_Latn": "vert", "rus_Cyrl": "зелёный",
                              "zho_Hans": "绿色", "arb_Arab": "أخضر", "hin_Deva": "हरा"}),
    "blue": ((30, 60, 220), {"eng_Latn": "blue", "deu_Latn": "blau", "fra_Latn": "bleu", "rus_Cyrl": "синий",
                             "zho_Hans": "蓝色", "arb_Arab": "أزرق", "hin_Deva": "नीला"}),
    "yellow": ((230, 210, 40), {"eng_Latn": "yellow", "deu_Latn": "gelb", "fra_Latn": "jaune",
                                "rus_Cyrl": "жёлтый", "zho_Hans": "黄色", "arb_Arab": "أصفر", "hin_Deva": "पीला"}),
}
CAPTION = {"eng_Latn": "A picture that is mostly {c}.", "deu_Latn": "Ein Bild, das größtenteils {c} ist.",
           "fra_Latn": "Une image surtout {c}.", "rus_Cyrl": "Картинка, в основном {c}.",
           "zho_Hans": "一张主要是{c}的图片。", "arb_Arab": "صورة معظمها {c}.", "hin_Deva": "एक तस्वीर जो ज़्यादातर {c} है।"}
PROMPT = {"eng_Latn": "Describe the image.", "deu_Latn": "Beschreibe das Bild.", "fra_Latn": "Décris l'image.",
          "rus_Cyrl": "Опиши изображение.", "zho_Hans": "描述这张图片。", "arb_Arab": "صف الصورة.",
          "hin_Deva": "चित्र का वर्णन करें।"}
FOLLOWUP = {"eng_Latn": ("Which colour?", "{c}."), "deu_Latn": ("Welche Farbe?", "{c}."),
            "fra_Latn": ("Quelle couleur ?", "{c}."), "rus_Cyrl": ("Какой цвет?", "{c}."),
            "zho_Hans": ("什么颜色？", "{c}。"), "arb_Arab": ("ما اللون؟", "{c}."), "hin_Deva": ("कौन सा रंग?", "{c}।")}
LANGS = list(CAPTION)


def sample_text() -> list[str]:
    """Multilingual lines the tiny tokenizer is trained on (every string the tiny shards use)."""
    lines = []
    for lang in LANGS:
        for _, words in COLOURS.values():
            c = words[lang]
            lines += [CAPTION[lang].format(c=c), PROMPT[lang], FOLLOWUP[lang][0], FOLLOWUP[lang][1].format(c=c)]
    lines += ["system", "user", "assistant", "You are a helpful assistant.",
              "The quick brown fox jumps over the lazy dog. 0123456789"]
    return lines


def build_tiny_tokenizer(out_dir: str | Path, extra_text: list[str] | None = None, vocab_size: int = 1024):
    """Train a byte-level BPE (every byte representable: no <unk>) and save it as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(sample_text() + list(extra_text or []), trainer=trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>",
                                 bos_token=None, unk_token=None)
    hf.chat_template = CHATML_TEMPLATE
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(out_dir)
    return hf


def _image(rgb: tuple[int, int, int], rng: random.Random, fmt: str, size: int = 48) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), rgb)
    draw = ImageDraw.Draw(img)
    for _ in range(3):     # a little clutter in other colours, so images differ
        x, y = rng.randrange(size), rng.randrange(size)
        draw.rectangle([x, y, x + size // 6, y + size // 6],
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def text_only_rows(n: int, seed: int = 0) -> list[dict]:
    """Schema rows without images (task `text`): the colour question answered from the text alone."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        lang = LANGS[i % len(LANGS)]
        c = COLOURS[rng.choice(sorted(COLOURS))][1][lang]
        msgs = [{"role": "user", "content": f"{CAPTION[lang].format(c=c)} {FOLLOWUP[lang][0]}"},
                {"role": "assistant", "content": FOLLOWUP[lang][1].format(c=c)}]
        rows.append(make_row(source="tiny-text", origin_id=str(i), task="text", lang=lang, messages=msgs, images=[]))
    return rows


def tiny_rows(n: int, seed: int = 0) -> list[dict]:
    """Schema rows: captions (1 turn), instructions (2 turns) and a few two-image samples, 7 languages."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        lang = LANGS[i % len(LANGS)]
        name = rng.choice(sorted(COLOURS))
        rgb, words = COLOURS[name]
        c = words[lang]
        kind = i % 5
        images = [_image(rgb, rng, "JPEG" if i % 2 else "PNG")]
        if kind in (0, 1, 2):
            task = "caption"
            msgs = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{PROMPT[lang]}"},
                    {"role": "assistant", "content": CAPTION[lang].format(c=c)}]
        elif kind == 3:
            task = "instruct"
            q, a = FOLLOWUP[lang]
            msgs = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{PROMPT[lang]}"},
                    {"role": "assistant", "content": CAPTION[lang].format(c=c)},
                    {"role": "user", "content": q},
                    {"role": "assistant", "content": a.format(c=c)}]
        else:
            task = "instruct"
            images.append(_image(rgb, rng, "JPEG"))
            msgs = [{"role": "user", "content": f"{IMAGE_TOKEN}{IMAGE_TOKEN}\n{FOLLOWUP[lang][0]}"},
                    {"role": "assistant", "content": FOLLOWUP[lang][1].format(c=c)}]
        rows.append(make_row(source="tiny", origin_id=str(i), task=task, lang=lang, messages=msgs, images=images,
                             meta={"colour": name}))
    return rows


def write_tiny_shards(out_dir: str | Path, n: int = 140, samples_per_shard: int = 20, seed: int = 0,
                      text_only: bool = False, prefix: str = "shard") -> list[str]:
    """Write tiny_rows(n) (or text_only_rows(n)) as WebDataset shards; returns the shard paths."""
    rows = text_only_rows(n, seed) if text_only else tiny_rows(n, seed)
    return write_rows(out_dir, rows, samples_per_shard, prefix)


def write_rows(out_dir: str | Path, rows: list[dict], samples_per_shard: int = 20, prefix: str = "shard") -> list[str]:
    """Schema rows -> WebDataset shards through mixkit's own ShardWriter (the shard format's writer)."""
    from mixkit.core import storage
    from mixkit.core.shard_writer import ShardWriter

    with ShardWriter(out_dir, max_samples=samples_per_shard, max_bytes=1 << 62, prefix=prefix) as w:
        w.write_all(rows)
    return [storage.join(out_dir, info["path"]) for info in w.infos]
