"""The ``lawful`` command."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lawful.errors import LawfulError
from lawful.policy.loader import load_policy
from lawful.policy.model import Policy
from lawful.settings import Settings

app = typer.Typer(
    name="lawful",
    help="Lawful: the back office whose privacy statement is true by construction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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


class StatementFormat(enum.StrEnum):
    md = "md"
    html = "html"


class RopaFormat(enum.StrEnum):
    json = "json"
    csv = "csv"
    html = "html"


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def _policy(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except LawfulError as exc:
        raise _fail(exc.message) from None


def _settings(policy: Path | None = None) -> Settings:
    settings = Settings()
    if policy is not None:
        settings = settings.model_copy(update={"policy": policy})
    return settings


@app.command()
def statement(
    fmt: Annotated[StatementFormat, typer.Option("--format", "-f", help="md or html")] = StatementFormat.md,
    policy: PolicyOption = None,
) -> None:
    """Print the privacy statement, rendered from the policy."""
    from lawful.policy.render import render_statement

    sys.stdout.write(render_statement(_policy(policy), fmt.value))


@app.command()
def ropa(
    fmt: Annotated[RopaFormat, typer.Option("--format", "-f", help="json, csv or html")] = RopaFormat.json,
    policy: PolicyOption = None,
) -> None:
    """Print the GDPR art. 30(1) record of processing activities."""
    from lawful.policy.render import render_ropa

    sys.stdout.write(render_ropa(_policy(policy), fmt.value))


@app.command()
def datamap(policy: PolicyOption = None) -> None:
    """Print the policy and the annotated schema as fideslang YAML manifests (a system and a dataset)."""
    from lawful.policy.datamap import render_datamap
    from lawful.schema import metadata

    sys.stdout.write(render_datamap(_policy(policy), metadata))


@app.command()
def check(policy: PolicyOption = None) -> None:
    """Validate the policy and check the schema against it."""
    from lawful.data.check import check_metadata
    from lawful.schema import metadata

    loaded = _policy(policy)
    problems = check_metadata(metadata, loaded)
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/] {problem}", highlight=False)
        raise _fail(f"{len(problems)} problem(s) between the schema and {loaded.source}")
    typer.echo(f"{loaded.source}: {len(loaded.purposes)} purposes; the schema agrees with it")


@app.command()
def migrate(policy: PolicyOption = None) -> None:
    """Bring the database (LAWFUL_DATABASE_URL, or the SQLite file in LAWFUL_DATA_DIR) up to date."""
    from lawful.data.migrate import upgrade

    settings = _settings(policy)
    try:
        upgrade(settings.url)
    except Exception as exc:  # the database may be unreachable: say so, without a traceback
        raise _fail(f"migration failed: {exc}") from None
    typer.echo(f"database is up to date ({_redact(settings.url)})")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _prepare(settings: Settings) -> None:
    """Migrate the embedded default; require an external database to be migrated already."""
    from lawful.data.migrate import is_current, upgrade

    if settings.embedded:
        upgrade(settings.url)
    elif not is_current(settings.url):
        raise _fail("the database is not at the latest migration; run `lawful migrate` first")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on (LAWFUL_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (LAWFUL_PORT)")] = None,
    policy: PolicyOption = None,
) -> None:
    """Serve Lawful. Behind a reverse proxy, set FORWARDED_ALLOW_IPS to the proxy's address."""
    settings = _settings(policy)
    settings.loaded_policy  # noqa: B018  (fail early on a bad policy)
    try:
        _prepare(settings)
    except LawfulError as exc:
        raise _fail(exc.message) from None
    _run(settings, host or settings.host, port or settings.port)


def _run(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from lawful.web.app import create_app

    try:
        application = create_app(settings)
    except LawfulError as exc:
        raise _fail(exc.message) from None
    uvicorn.run(application, host=host, port=port, proxy_headers=True, log_level=settings.log_level)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="how many customers to create")] = 200,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="serve when loaded")] = True,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    policy: PolicyOption = None,
) -> None:
    """Migrate, load demo data, print the logins and serve on http://127.0.0.1:8000."""
    from lawful.data.db import Database
    from lawful.demo import load_demo

    settings = _settings(policy)
    try:
        _prepare(settings)
        db = Database(settings.url, settings.loaded_policy)
    except LawfulError as exc:
        raise _fail(exc.message) from None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("customers", total=customers)
        created = load_demo(db, customers=customers, progress=lambda n: bar.advance(task, n))
        bar.update(task, completed=customers)
    db.dispose()
    console.print(f"demo data: {created} customers created" if created else "demo data: already loaded")
    console.print(f"\n[bold]Lawful[/] on http://{host}:{port}/")
    console.print(f"  privacy statement  http://{host}:{port}/privacy")
    console.print(f"  API                http://{host}:{port}/api/v1/  (OpenAPI: /openapi.json, /docs)")
    console.print(
        "  logins             none yet: the portal and the console come with customers' users and staff\n"
    )
    if serve_after:
        _run(settings, host, port)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
