"""Recipe options of the translation stage (`steps.translate:` in a recipe)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MODEL = "facebook/nllb-200-distilled-600M"
# Model ids that name no weights: translations come only from the cache (seeded by
# translation.demo_cache); a miss is a clear error. Used by the offline demo.
PSEUDO_MODELS = frozenset({"mixkit-demo-phrasebook"})


class GenerationOptions(BaseModel):
    """Decoding settings. All of them are part of the translation cache key."""

    model_config = ConfigDict(extra="forbid")

    num_beams: int = Field(1, ge=1)
    # Cap on new tokens per segment. NLLB checkpoints default to max_length=200; we always pass
    # max_new_tokens. The budget per segment is min(cap, ratio * source_tokens + slack); a
    # segment that reaches it without </s> is rejected ('output_truncated'), never kept cut.
    max_new_tokens: int = Field(256, ge=4)
    max_new_tokens_ratio: float = Field(3.0, gt=0)
    max_new_tokens_slack: int = Field(10, ge=0)
    repetition_penalty: float = Field(1.0, gt=0)
    no_repeat_ngram_size: int = Field(0, ge=0)
    # A segment whose output loops (or runs to its budget) is decoded once more with these
    # stronger settings (cached under them) before its row is rejected. The first pass has no
    # penalty: it would bend the ~all outputs that do not loop, and transformers applies
    # no_repeat_ngram_size in a Python loop per hypothesis (slow on large GPU batches).
    retry_repetition_penalty: float = Field(1.3, gt=0)
    retry_no_repeat_ngram_size: int = Field(4, ge=0)
    retry: bool = True

    def for_retry(self) -> "GenerationOptions":
        return self.model_copy(update={"repetition_penalty": self.retry_repetition_penalty,
                                       "no_repeat_ngram_size": self.retry_no_repeat_ngram_size, "retry": False})
    length_penalty: float = 1.0
    # Benchmarks only: generate exactly N new tokens per segment (random-weight models never
    # emit </s>; a fixed length makes runs comparable). Never set in a recipe.
    fixed_new_tokens: int | None = Field(None, ge=1)


class CheckOptions(BaseModel):
    """Output checks; each failing check is a rejection reason."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Language ID (fastText). Rejected when LID names another language with at least this
    # confidence. Languages the LID model has no label for are marked 'unchecked'.
    lid_model: str | None = None
    lid_threshold: float = Field(0.5, ge=0, le=1)
    lid_thresholds: dict[str, float] = Field(default_factory=dict)   # per FLORES code
    lid_min_chars: int = 20          # LID is unreliable on shorter text: marked 'too_short'
    script_check: bool = True        # letters must be mostly in the target's script
    script_min_share: float = 0.5
    # Length ratio (translated prose chars / source prose chars), over rows whose source prose
    # has at least `length_min_chars`. Per-script overrides: CJK writes far fewer characters.
    length_ratio_min: float = 0.35
    length_ratio_max: float = 3.0
    length_ratio_by_script: dict[str, tuple[float, float]] = Field(default_factory=lambda: {
        "Hans": (0.12, 1.5), "Hant": (0.12, 1.5), "Jpan": (0.15, 1.8), "Hang": (0.15, 1.8),
    })
    length_min_chars: int = 15
    # Repetition loops of any period (translation.checks.find_loop): a unit repeated 3+ times
    # in a row over at least this many letters, or a 40+-letter unit twice; not when the source
    # has the same loop.
    repetition_min_chars: int = Field(20, ge=4)
    # Untranslated copy: share of the row's source prose characters that come back unchanged.
    copy_max_share: float = 0.5
    copy_min_chars: int = 12         # segments shorter than this may legitimately be copied (names)
    numbers: bool = True             # every number in a source segment must survive


class KeepAnswers(BaseModel):
    """Whole-message answers that stay as they are (they are labels, not prose)."""

    model_config = ConfigDict(extra="forbid")

    # table: short answers (yes/no, true/false, left/right, ...) come from a per-language table
    # built once and checked (translation.answers); keep: left in English; translate: as prose
    yes_no: Literal["table", "translate", "keep"] = "table"
    option_letters: bool = True      # "A", "(B)", "C.", "J", "(ii)" as a whole message (a lone label)
    numbers: bool = True             # a message that is only a number ("42", "-3.5", "1,000", "25%")
    patterns: list[str] = Field(default_factory=list)   # extra regexes (fullmatch on the stripped message)


class TranslateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str = DEFAULT_MODEL                          # hub id, local path, or a PSEUDO_MODELS id
    # identity: returns its input (debugging: segmentation and reassembly without a model)
    backend: Literal["transformers", "ctranslate2", "identity"] = "transformers"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"   # auto: bf16/fp16 on GPU, fp32 on CPU
    # backend ctranslate2 only: auto = int8 on CPU, int8_float16 on GPU
    ct2_compute_type: Literal["auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                              "float16", "bfloat16", "float32"] = "auto"
    source_lang: str = "eng_Latn"                       # when a row's meta has no translate_from
    batch_tokens: int = Field(8192, ge=16)              # padded tokens per model batch
    max_batch_segments: int = Field(256, ge=1)
    max_input_tokens: int = Field(200, ge=8)            # longer segments are split; unsplittable -> rejected
    split_sentences: bool = True                        # NLLB is trained on sentences
    roles: list[str] = Field(default_factory=lambda: ["system", "user", "assistant"])
    generation: GenerationOptions = Field(default_factory=GenerationOptions)
    checks: CheckOptions = Field(default_factory=CheckOptions)
    keep_answers: KeepAnswers = Field(default_factory=KeepAnswers)
    # How many workers (one model load each) and their CPUs/GPUs: the recipe's `workers: {translate: ...}`.
    batch_rows: int = Field(256, ge=1)                  # rows per process_batch call
    # A folder or a URL (s3://...: machines that share no disk); default: $MIXKIT_CACHE_DIR/translation
    # in a build, OUT/translation_cache for `mixkit translate`.
    cache_dir: str | None = None
    # Cache identity of the model; default: hub id @ revision (the local snapshot's commit), or
    # a fingerprint (config + weights) of a local directory.
    cache_model_id: str | None = None
    model_revision: str | None = None                   # hub commit / tag to load (part of the cache key)
    # JSON-lines phrasebook seeded into the cache before translating (translation.demo_cache);
    # a relative path is resolved against the recipe's folder.
    phrasebook: str | None = None

    @field_validator("model")
    @classmethod
    def _model_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("steps.translate.model is empty: give a hub id or a local checkpoint directory")
        return v
