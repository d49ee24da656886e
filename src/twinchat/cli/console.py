"""Where commands write: results to stdout, progress, warnings and errors to stderr."""

from rich.console import Console

out = Console()
err = Console(stderr=True)
