"""The recipe's `steps.dedup` block: which passes run and how near is near."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

REASONS = ("exact_duplicate_text", "exact_duplicate_image", "near_duplicate_text", "near_duplicate_image")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NearTextOptions(_Strict):
    enabled: bool = True
    threshold: float = Field(0.8, gt=0, le=1)   # Jaccard similarity of character n-gram sets
    num_perm: int = Field(128, ge=8, le=1024)   # at most this many MinHash values per row (bands x rows are used)
    ngram: int = Field(5, ge=1, le=32)           # characters per shingle
    seed: int = 1
    recall: float = Field(0.95, ge=0.5, lt=1)    # chance that LSH finds a pair exactly at the threshold

    @model_validator(mode="after")
    def _bands_exist(self):
        self.bands_rows      # raises a ValueError that says which num_perm would do
        return self

    @property
    def bands_rows(self) -> tuple[int, int]:
        from mixkit.dedup.bands import lsh_params

        return lsh_params(self.threshold, self.num_perm, self.recall)


class ImagePhashOptions(_Strict):
    enabled: bool = True
    max_hamming: int = Field(6, ge=0, le=8)      # per 64-bit hash (horizontal and vertical)
    recall: float = Field(0.95, ge=0.5, lt=1)    # chance that LSH finds a pair at max_hamming on both hashes


class DedupOptions(_Strict):
    enabled: bool = True
    text_key: Literal["conversation", "assistant"] = "conversation"
    partition_by: list[Literal["lang", "task", "source"]] = ["lang"]
    exact_text: bool = True
    exact_image: bool = True
    image_tasks: list[str] | None = ["caption"]   # None = all tasks
    near_text: NearTextOptions = NearTextOptions()
    image_phash: ImagePhashOptions = ImagePhashOptions()
