"""Where an audit's target shares come from: a recipe, or the manifest.json beside the shards."""
from __future__ import annotations

import os

from mixkit.core import storage
from mixkit.core.shard_format import MANIFEST_NAME, Manifest, expand_shards
from mixkit.lang import languages


def find_manifest(paths: list[str]) -> str | None:
    """manifest.json in the directory (or URL prefix) holding all the shards, if there is one."""
    dirs = {storage.parent(p) for p in paths}
    if len(dirs) == 1:
        m = storage.join(dirs.pop(), MANIFEST_NAME)
        if storage.exists(m):
            return m
    return None


def targets_from_manifest(path: str | os.PathLike) -> dict[str, float] | None:
    """`targets.by_lang` of a mixkit manifest.json (None when it has none)."""
    t = Manifest.read(path).targets_by_lang
    return {languages.resolve(k): v for k, v in t.items()} if t else None


def targets_from_recipe(path: str | os.PathLike) -> dict[str, float]:
    from mixkit.build.plan import recipe_output_targets
    from mixkit.build.recipe import load_recipe

    return recipe_output_targets(load_recipe(path))   # the source mix plus OCR samples, as a build writes


def resolve_targets(shards: str | list, recipe: str | os.PathLike | None = None) -> tuple[dict[str, float] | None, str | None]:
    """(targets, where they came from): the recipe's target shares, else the `targets.by_lang`
    of a manifest.json beside the shards, else (None, None)."""
    if recipe:
        return targets_from_recipe(recipe), f"recipe:{recipe}"
    m = find_manifest(expand_shards(shards))
    if m is not None:
        t = targets_from_manifest(m)
        if t:
            return t, f"manifest:{storage.display(m)}"
    return None, None
