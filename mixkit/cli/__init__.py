"""The `mixkit` command line (typer): `app.py` holds the app and the build commands; each other
area's commands live in a module of their own here and register themselves on the app."""
from mixkit.cli.app import app

__all__ = ["app"]
