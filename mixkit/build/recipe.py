"""Recipes: a YAML file that says which sources, which languages, which ratios.

`load_recipe(path)` parses with yaml.safe_load, validates with pydantic and turns every error
into one that names the file, the line and the field and says what would be valid. Unknown
keys are errors, never ignored. Relative source paths are resolved against the recipe's folder.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mixkit.core import storage
from mixkit.lang import languages
from mixkit.dedup import DedupOptions
from mixkit.runtime.workers import Workers
from mixkit.filters import FilterOptions
from mixkit.sources import AUTO, FORMAT_CHOICES
from ocr_synth.options import OcrOptions
from translation.options import TranslateOptions


class RecipeError(ValueError):
    """A recipe that cannot be used; str() is `file:line: field: what is wrong. what is valid`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    path: str                                   # file, directory, glob or {00000..00009} brace range
    format: Literal[FORMAT_CHOICES] = AUTO     # a name of mixkit.sources.FORMATS, or detect per file
    task: str = "caption"
    lang: str = languages.ENGLISH               # language of the source as it is
    translate: bool = True                      # may English samples of this source be translated?
    weight: float = Field(default=1.0, gt=0)    # relative sampling weight when a pool is sub-sampled
    limit: int | None = Field(default=None, ge=1)   # read at most this many records
    image_root: str | None = None               # base folder for relative image paths

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str) -> str:
        return languages.resolve(v)


class TierWeights(_Strict):
    tiers: dict[Literal["T1", "T2", "T3", "T4", "T5"], float]


class Temperature(_Strict):
    temperature: float = Field(gt=0, le=1)


class Explicit(_Strict):
    explicit: dict[str, float]

    @field_validator("explicit")
    @classmethod
    def _codes(cls, v: dict[str, float]) -> dict[str, float]:
        out = {languages.resolve(k): float(s) for k, s in v.items()}
        if any(s < 0 for s in out.values()):
            raise ValueError("shares must be >= 0")
        total = sum(out.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"explicit shares of the non-English part must add up to 1, they add up to {total:.6g}")
        if languages.ENGLISH in out:
            raise ValueError("eng_Latn does not belong in `explicit`; set `english_share` instead")
        return out


Distribution = Union[Literal["uniform"], TierWeights, Temperature, Explicit]


class StepOptions(_Strict):
    """The `steps:` block: options of the build steps that have any."""
    filters: FilterOptions = FilterOptions()
    dedup: DedupOptions = DedupOptions()
    translate: TranslateOptions = TranslateOptions()
    ocr: OcrOptions = OcrOptions()


class OutputSpec(_Strict):
    samples_per_shard: int = Field(default=1000, ge=1)
    max_shard_mb: float = Field(default=256, gt=0)
    # The steps' working folder (partitions, markers); --work overrides it. Default: the --out
    # folder or URL itself. A path or a URL (s3://bucket/work); on a cluster, storage every node
    # sees (object storage is; a local disk is not).
    work: str | None = None


class Recipe(_Strict):
    name: str
    description: str = ""
    finding: str = ""                           # the study's finding this recipe reproduces
    seed: int = 0
    total: int = Field(ge=1)                    # samples in the mix drawn from sources (OCR adds on top)
    english_share: float = Field(ge=0, le=1)
    languages: Union[Literal["all"], list[str]] = "all"   # "all" (the study's 100), tier names and/or codes
    distribution: Distribution = "uniform"
    on_shortfall: Literal["upsample", "fail"] = "fail"
    sources: list[SourceSpec] = Field(min_length=1)
    steps: StepOptions = StepOptions()
    # Per step name (read, filter, dedup, translate, ocr, mix, an added stage) and `default`: a
    # fixed count or {count | min, max, cpus, gpus} per worker (mixkit.runtime.workers).
    workers: dict[str, Workers] = Field(default_factory=dict)
    output: OutputSpec = OutputSpec()
    path: Path | None = Field(default=None, exclude=True)
    sha256: str = Field(default="", exclude=True)

    @field_validator("languages")
    @classmethod
    def _langs(cls, v):
        if v == "all":
            return [l.code for l in languages.centurio_languages()]
        out: list[str] = []
        for item in v:
            codes = languages.by_tier(item) if item in languages.TIERS else [languages.resolve(item)]
            out.extend(c for c in codes if c not in out)
        if not out:
            raise ValueError("no languages selected")
        return out

    @model_validator(mode="after")
    def _consistent(self) -> "Recipe":
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        if isinstance(self.distribution, Explicit):
            missing = sorted(set(self.distribution.explicit) - set(self.languages))
            if missing:
                raise ValueError(f"distribution.explicit names languages not in `languages`: {missing}")
        if self.english_share < 1 and not self.non_english:
            raise ValueError("english_share < 1 but `languages` has no language other than eng_Latn")
        return self

    @property
    def non_english(self) -> list[str]:
        return [c for c in self.languages if c != languages.ENGLISH]


# ---------------------------------------------------------------------------------------------
# Loading with file:line:field errors

def _node_line(node: yaml.Node | None, loc: tuple) -> tuple[int | None, str]:
    """1-based line of the YAML node at `loc` (walking as deep as the document goes)."""
    line = node.start_mark.line + 1 if node is not None else None
    walked = []
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            names = (key, "stages") if key == "steps" else (key,)     # `stages:`: the key's old name
            nxt = next(((k, v) for k, v in node.value if k.value in names), None)
            if nxt is None:
                break
            node = nxt[1] if not isinstance(key, str) or True else None
            line = nxt[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
        walked.append(key)
    return line, ".".join(str(k) for k in walked)


_HINTS = {
    "extra_forbidden": "unknown key; remove it or check its spelling (valid keys: {valid})",
    "missing": "this field is required",
}


def _valid_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys valid at the mapping that holds loc[-1] (for 'unknown key' errors)."""
    cls: Any = model
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        field = getattr(cls, "model_fields", {}).get(key)
        if field is None:
            return []
        ann = field.annotation
        for cand in getattr(ann, "__args__", ()) + (ann,):
            inner = getattr(cand, "__args__", ())
            for c in (cand, *inner):
                if isinstance(c, type) and issubclass(c, BaseModel):
                    cls = c
                    break
            else:
                continue
            break
    return sorted(k for k in getattr(cls, "model_fields", {}) if k not in ("path", "sha256"))


def _format_error(path: Path, root: yaml.Node | None, err: dict) -> str:
    loc = tuple(k for k in err["loc"] if not (isinstance(k, str) and (k.startswith("function-") or k in (
        "TierWeights", "Temperature", "Explicit", "literal['uniform']", "str", "list[str]", "literal['all']"))))
    line, _ = _node_line(root, loc)
    field = ".".join(str(k) for k in loc) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = _HINTS["extra_forbidden"].format(valid=", ".join(_valid_keys(Recipe, loc)) or "see docs")
    elif err["type"] == "missing":
        msg = _HINTS["missing"]
    return f"{path}:{line or '?'}: {field}: {msg}"


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: recipe file not found (bundled recipes: `mixkit recipes`)")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise RecipeError(f"{path}:{line}: the recipe is not valid UTF-8 (byte {e.start}); save it as UTF-8") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(f"{where}: malformed YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}:1: a recipe is a mapping of keys (name, total, english_share, languages, sources, ...)")
    # `stages:` is the key's name before mixkit 0.2 (it configures build steps, and dedup is no Stage).
    if "stages" in data and "steps" not in data:
        data["steps"] = data.pop("stages")
        warnings.warn(f"{path}: the recipe key `stages:` is now `steps:` (read as `steps:`; rename it)",
                      FutureWarning, stacklevel=2)
    _move_translate_workers(path, data)
    # `distribution:` given as a bare mapping is parsed by the union; reject unknown shapes clearly.
    dist = data.get("distribution")
    if isinstance(dist, dict) and len(dist) != 1:
        line, _ = _node_line(root, ("distribution",))
        raise RecipeError(f"{path}:{line}: distribution: give exactly one of uniform | tiers: {{T1: w, ...}} | "
                          f"temperature: alpha | explicit: {{code: share}}")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        # The distribution union reports one error per alternative; keep the one for the shape given.
        if isinstance(dist, dict):
            key = next(iter(dist))
            kept = [er for er in errors if er["loc"][:1] != ("distribution",) or key in er["loc"]]
            errors = kept or errors
        lines = sorted({_format_error(path, root, er) for er in errors})
        raise RecipeError("invalid recipe:\n  " + "\n  ".join(lines)) from None
    def beside_recipe(p: str) -> str:
        """A relative path is relative to the recipe file; a URL (s3://...) is taken as it is."""
        return p if storage.is_remote(p) or Path(storage.local_path(p)).is_absolute() else str(path.parent / p)

    for src in recipe.sources:
        src.path = beside_recipe(src.path)
        if src.image_root:
            src.image_root = beside_recipe(src.image_root)
    tr = recipe.steps.translate
    for attr in ("phrasebook", "cache_dir"):
        v = getattr(tr, attr)
        if v:
            setattr(tr, attr, beside_recipe(v))
    recipe.path = path
    recipe.sha256 = hashlib.sha256(raw).hexdigest()
    return recipe


# steps.translate's keys before the `workers:` block (mixkit 0.2): actors, cpus_per_actor, gpus_per_actor
_OLD_TRANSLATE_WORKERS = {"actors": "count", "cpus_per_actor": "cpus", "gpus_per_actor": "gpus"}


def _move_translate_workers(path: Path, data: dict) -> None:
    """Read the translate step's old worker keys as `workers.translate` (with a warning naming it)."""
    tr = (data.get("steps") or {}).get("translate")
    if not isinstance(tr, dict) or not set(_OLD_TRANSLATE_WORKERS) & set(tr):
        return
    old = {k: tr.pop(k) for k in list(tr) if k in _OLD_TRANSLATE_WORKERS}
    workers = data.setdefault("workers", {})
    if isinstance(workers, dict) and "translate" not in workers:
        workers["translate"] = {_OLD_TRANSLATE_WORKERS[k]: v for k, v in old.items()}
    warnings.warn(f"{path}: steps.translate.{'/'.join(old)} are now `workers: {{translate: {{count, cpus, gpus}}}}` "
                  f"(read as such; move them)", FutureWarning, stacklevel=3)


def check_workers(recipe: Recipe, step_names: list[str]) -> None:
    """Every `workers:` entry names a step of this build (or is `default`); else a RecipeError."""
    unknown = sorted(set(recipe.workers) - set(step_names) - {"default"})
    if unknown:
        raise RecipeError(f"{recipe.path}: workers: {', '.join(unknown)} names no step of this build "
                          f"(steps: {', '.join(step_names)}; or `default` for all of them)")


def check_sources_exist(recipe: Recipe) -> None:
    """Every source path matches at least one file; else a RecipeError naming the line."""
    from mixkit.sources import SourceError, list_source_files

    root = yaml.compose(recipe.path.read_text(encoding="utf-8")) if recipe.path else None
    for i, src in enumerate(recipe.sources):
        hint = " (paths are relative to the recipe file)"
        try:
            files = list_source_files(src.path, src.format)
        except SourceError as e:
            files, why = [], str(e)
        except storage.StorageError as e:     # names the URL and the credentials, bucket or package
            files, why, hint = [], str(e), ""
        else:
            why = f"no files match {storage.display(src.path)}"
        if not files:
            line, _ = _node_line(root, ("sources", i, "path"))
            raise RecipeError(f"{recipe.path}:{line}: sources.{i}.path: {why}{hint}")
