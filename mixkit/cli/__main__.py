"""`python -m mixkit.cli` runs the command line (as the `mixkit` script does)."""
from mixkit.cli.app import app

app()
