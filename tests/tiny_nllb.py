"""Build a tiny, randomly initialised NLLB-shaped checkpoint on disk (nothing downloaded).

SentencePiece BPE model trained on a few sentences + NllbTokenizer with the 202 FAIRSEQ
language codes as extra special tokens + a tiny M2M100 model. The result loads through the
same `AutoTokenizer` / `AutoModelForSeq2SeqLM` code path as facebook/nllb-200-*.

PITFALLS (transformers 5.23): `NllbTokenizer(vocab_file=...)` ignores the file, and
`from_pretrained(dir)` over a bare sentencepiece.bpe.model drops the language codes; passing
`extra_special_tokens=FAIRSEQ_LANGUAGE_CODES` and then `save_pretrained` is what works.
"""
from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path

CORPUS = [
    "A dog runs across a green field next to a small red barn.",
    "Two people are sitting at a wooden table and drinking coffee.",
    "What color is the car parked in front of the house?",
    "The answer is B because the chart shows the highest value in 2019.",
    "Describe the image in detail. Mention every object you can see.",
    "A photo of a city street at night with bright lights and many cars.",
    "Question: How many birds are on the branch? Options: A. one B. two C. three D. four",
    "Yes, there is a cat sleeping on the sofa near the window.",
    "No, the man is not wearing a hat; he holds an umbrella instead.",
    "The table lists prices: apples cost 3 dollars, oranges cost 5 dollars.",
    "Visit the website for more information about the museum and its opening hours.",
    "She is reading a book while the children play football in the park.",
    "Explain why the sky looks blue during the day and red at sunset.",
    "Answer with the option's letter from the given choices directly.",
    "The quick brown fox jumps over the lazy dog; jackdaws love my big sphinx of quartz.",
    "First, open the box. Second, take out the parts. Third, read the manual carefully!",
    "Is this a good place to swim? Why or why not, in your opinion?",
    "A woman in a yellow jacket rides a bicycle down a busy road.",
]


def _corpus_lines() -> list[str]:
    # every printable ASCII character appears, so English input never hits <unk>
    extra = [" ".join(string.ascii_letters), " ".join(string.digits + string.punctuation)]
    return CORPUS * 3 + extra


def write_nllb_tokenizer(lines: list[str], out_dir: str | os.PathLike, vocab_size: int, **spm_options) -> Path:
    """Train a SentencePiece BPE model on `lines` and save it in `out_dir` as an NllbTokenizer with
    the 202 FAIRSEQ language codes (the PITFALLS route); return `out_dir`."""
    import sentencepiece as spm
    from transformers import NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        options = dict(character_coverage=1.0, num_threads=1, minloglevel=2)
        options.update(spm_options)
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(tmp) / "sentencepiece.bpe"), vocab_size=vocab_size,
            model_type="bpe", bos_id=0, pad_id=1, eos_id=2, unk_id=3, **options)
        raw = Path(tmp) / "raw"
        raw.mkdir()
        os.replace(Path(tmp) / "sentencepiece.bpe.model", raw / "sentencepiece.bpe.model")
        tok = NllbTokenizer.from_pretrained(str(raw), extra_special_tokens=list(FAIRSEQ_LANGUAGE_CODES))
        tok.save_pretrained(str(out))
    return out


def build_tiny_nllb(out_dir: str | os.PathLike, *, vocab_size: int = 400, d_model: int = 16,
                    seed: int = 0) -> Path:
    """Write tokenizer + model into `out_dir` and return it. About a second on one core."""
    import torch
    from transformers import AutoTokenizer, M2M100Config, M2M100ForConditionalGeneration

    out = write_nllb_tokenizer(_corpus_lines(), out_dir, vocab_size)
    tok = AutoTokenizer.from_pretrained(str(out))
    ids = tok("A dog runs across a green field.")["input_ids"]
    assert tok.unk_token_id not in ids, "tiny tokenizer maps English to <unk>"
    assert tok.convert_tokens_to_ids("swh_Latn") != tok.unk_token_id
    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=len(tok), d_model=d_model, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_position_embeddings=256, pad_token_id=tok.pad_token_id, bos_token_id=0,
        eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id, scale_embedding=True,
        tie_word_embeddings=True,
    )
    model = M2M100ForConditionalGeneration(config).eval()
    model.save_pretrained(str(out))
    return out


_CACHED: dict[str, Path] = {}


def tiny_nllb_path() -> Path:
    """One checkpoint per process (pytest session), under the temp dir."""
    if "path" not in _CACHED:
        root = Path(tempfile.mkdtemp(prefix="tiny_nllb_"))
        _CACHED["path"] = build_tiny_nllb(root / "model")
    return _CACHED["path"]


if __name__ == "__main__":
    import sys, time

    t = time.time()
    p = build_tiny_nllb(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tiny_nllb")
    print(p, f"{time.time() - t:.1f}s")
