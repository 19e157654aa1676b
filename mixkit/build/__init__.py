"""A build: the recipe, the plan (quotas and which sample becomes which language), the declared
list of steps, the build folder, and the runner that runs the steps and writes the manifest.

    from mixkit.build import build, load_recipe
    res = build(load_recipe("recipes/demo.yaml"), "runs/demo")
"""
from __future__ import annotations

_LAZY = {"build": "mixkit.build.runner", "BuildResult": "mixkit.build.runner",
         "load_recipe": "mixkit.build.recipe", "Recipe": "mixkit.build.recipe", "RecipeError": "mixkit.build.recipe",
         "default_steps": "mixkit.build.steps", "insert_after": "mixkit.build.steps",
         "BuildFolder": "mixkit.build.folder"}


def __getattr__(name: str):   # lazy: `import mixkit.build.recipe` must not import Ray or the steps
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mixkit.build' has no attribute {name!r}")


__all__ = sorted(_LAZY)
