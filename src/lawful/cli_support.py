"""What the ``lawful`` command and its domains' sub-commands share: the ``--policy`` option, the
error console, how an error ends a command, the progress bar and the console tables print on."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)

PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        envvar="LAWFUL_POLICY",
        help="policy file (default: the shipped policy.toml)",
        dir_okay=False,
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as an error; the exit to raise, with status ``code``."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def table_console() -> Console:
    """The console tables print on: the terminal's width, or wide enough when piped."""
    return Console(width=None if sys.stdout.isatty() else 200)
