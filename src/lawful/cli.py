"""The ``lawful`` command."""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from lawful.cli_support import PolicyOption, console, table_console
from lawful.cli_support import fail as _fail
from lawful.cli_support import progress_bar as _bar
from lawful.errors import LawfulError
from lawful.policy.loader import load_policy
from lawful.policy.model import Policy
from lawful.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lawful.data.db import Database
    from lawful.data.purpose import Actor
    from lawful.monitoring.models import UsageService
    from lawful.policy.render import DisclosedTo

app = typer.Typer(
    name="lawful",
    help="Lawful: the back office whose privacy statement is true by construction.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class StatementFormat(enum.StrEnum):
    md = "md"
    html = "html"


class RopaFormat(enum.StrEnum):
    json = "json"
    csv = "csv"
    html = "html"


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
    policy_only: Annotated[
        bool,
        typer.Option(
            "--policy-only",
            help="render the policy alone, without the authorities from the register of disclosures",
        ),
    ] = False,
    policy: PolicyOption = None,
) -> None:
    """Print the GDPR art. 30(1) record of processing activities.

    When there is a database (LAWFUL_DATABASE_URL, or the SQLite file in LAWFUL_DATA_DIR), the
    authorities the register of disclosures names are listed among the legal obligation's
    recipients; without one, the record comes from the policy alone.
    """
    from lawful.policy.render import render_ropa

    loaded = _policy(policy)
    disclosed = None if policy_only else _disclosed(loaded, policy)
    sys.stdout.write(render_ropa(loaded, fmt.value, disclosed))


def _disclosed(loaded: Policy, policy: Path | None) -> list[DisclosedTo] | None:
    """The authorities disclosed to, from the register; None when there is no database to read
    (never creating one), or it cannot be read (said on stderr)."""
    from sqlalchemy.engine import make_url

    from lawful.authorities.service import disclosed_recipients
    from lawful.data.db import Database

    settings = _settings(policy)
    url = make_url(settings.url)
    kwargs: dict[str, object] = {}
    if url.get_backend_name() == "sqlite":
        if not url.database or not Path(url.database).is_file():
            return None
    else:
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        db = Database(settings.url, loaded, **kwargs)
        try:
            return disclosed_recipients(db)
        finally:
            db.dispose()
    except Exception as exc:  # unreachable or not migrated: the policy alone, and say so
        console.print(
            f"note: the register of disclosures could not be read ({type(exc).__name__}); "
            "the record shows the policy's recipients only",
            highlight=False,
        )
        return None


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
    # No access log: it would keep every visitor's full IP address and every link's query string
    # (tokens included) outside the policy's retention. Lawful's own log names no person.
    uvicorn.run(
        application,
        host=host,
        port=port,
        proxy_headers=True,
        log_level=settings.log_level,
        access_log=False,
    )


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="how many customers to create")] = 200,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="serve when loaded")] = True,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    traffic: Annotated[
        int,
        typer.Option(
            "--traffic",
            min=0,
            help="tracker events to send through the ingestion pipeline, over 30 days (0: none)",
        ),
    ] = 200_000,
    policy: PolicyOption = None,
) -> None:
    """Migrate, load demo data and traffic, print the logins and serve on http://127.0.0.1:8000."""
    from lawful.data.db import Database
    from lawful.demo import demo_tables, load_demo
    from lawful.users.service import AuthConfig

    settings = _settings(policy)
    try:
        _prepare(settings)
        db = Database(settings.url, settings.loaded_policy)
    except LawfulError as exc:
        raise _fail(exc.message) from None
    with _bar() as bar:
        task = bar.add_task("customers, their users and support contacts", total=customers)
        billing = bar.add_task("plans, usage and three months of invoices (the billing run)", total=None)
        result = load_demo(
            db,
            customers=customers,
            auth=AuthConfig.from_settings(settings),
            settings=settings,
            progress=lambda n: bar.advance(task, n),
            billing_progress=lambda done, total: bar.update(billing, completed=done, total=total),
        )
        bar.update(task, completed=customers)
    traffic_report = _demo_traffic(db, traffic) if traffic > 0 else None
    db.dispose()
    if result.customers:
        console.print(
            f"demo data: {result.customers} customers created, with {result.users} users and "
            f"{result.support_contacts} support contacts"
        )
    else:
        console.print("demo data: already loaded")
    if result.billing is not None and result.billing.invoices:
        months = ", ".join(f"{month:%B %Y}" for month in result.billing.periods)
        console.print(
            f"demo billing: {result.billing.plans} plans, {result.billing.subscriptions} subscriptions, "
            f"{result.billing.usage_events:,} usage events, {result.billing.invoices} invoices finalised "
            f"by the billing run for {months}"
        )
    if traffic_report:
        console.print(traffic_report)
    for table in demo_tables(result.logins, f"http://{host}:{port}"):
        console.print(table)
    if serve_after:
        _run(settings, host, port)


def _demo_traffic(db: Database, events: int) -> str:
    """Demo traffic through the real pipeline and usage of the demo customers, with progress bars."""
    from datetime import UTC, datetime

    from lawful.monitoring import jobs, traffic

    if traffic.has_traffic(db):
        return "demo traffic: already generated"
    now = datetime.now(UTC)
    with _bar() as bar:
        task = bar.add_task("page views and events, through the ingestion pipeline", total=events)
        result = traffic.generate(
            db, events=events, now=now, with_usage=False, progress=lambda n: bar.advance(task, n)
        )
        planned = traffic.usage_events(db, now=now)
        usage_task = bar.add_task("usage events of the demo customers", total=len(planned))
        outcomes = traffic.report_usage(db, planned, now=now, progress=lambda n: bar.advance(usage_task, n))
        rollup_task = bar.add_task("daily rollups for the dashboards (the maintenance job)", total=None)
        report = jobs.run(db, now=now)
        bar.update(rollup_task, total=report.days_rolled_up, completed=report.days_rolled_up)
    accepted = sum(o.status == "accepted" for o in outcomes)
    return (
        f"demo traffic: {result.generated:,} events in {result.visits:,} visits over 30 days "
        f"({result.stored:,} stored, {result.dropped:,} dropped for an objection or as bots) "
        f"in {result.traffic_seconds:.1f} s; {accepted:,} usage events; "
        f"{report.days_rolled_up} site-days rolled up"
    )


# --- staff accounts ---------------------------------------------------------------------------

staff_app = typer.Typer(
    help="Staff accounts of the console: create the first admin, reset a password, list them.",
    no_args_is_help=True,
)
app.add_typer(staff_app, name="staff")
STAFF_ROLES = ("admin", "support", "finance", "privacy_officer", "analyst")
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="the password (it ends up in your shell history); asked for, hidden and twice, when left out",
    ),
]


def _staff_database(policy: Path | None) -> tuple[Settings, Database]:
    from lawful.data.db import Database

    settings = _settings(policy)
    try:
        _prepare(settings)
        return settings, Database(settings.url, settings.loaded_policy)
    except LawfulError as exc:
        raise _fail(exc.message) from None


def _new_password(given: str | None) -> str:
    if given is not None:
        return given
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@staff_app.command("create")
def staff_create(
    email: Annotated[str, typer.Option("--email", help="work e-mail address (the login)")],
    name: Annotated[str, typer.Option("--name", help="full name")],
    role: Annotated[str, typer.Option("--role", help=f"one of: {', '.join(STAFF_ROLES)}")],
    password: PasswordOption = None,
    policy: PolicyOption = None,
) -> None:
    """Create a staff member (the first one: --role admin). Migrates the embedded database first."""
    from lawful.data.purpose import Actor
    from lawful.users.models import StaffRole
    from lawful.users.service import AuthConfig, create_staff

    try:
        staff_role = StaffRole(role)
    except ValueError:
        raise _fail(f"unknown role {role!r}; choose one of: {', '.join(STAFF_ROLES)}") from None
    settings, db = _staff_database(policy)
    try:
        secret = _new_password(password)
        with db.unit_of_work("staff_access", Actor.system("cli")) as session:
            staff = create_staff(
                session,
                email=email,
                name=name,
                role=staff_role,
                password=secret,
                cfg=AuthConfig.from_settings(settings),
            )
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    typer.echo(f"created {staff.email} ({staff_role.value}); sign in at {settings.base_url}/console/login")


@staff_app.command("reset-password")
def staff_reset_password(
    email: Annotated[str, typer.Option("--email", help="the staff member's e-mail address")],
    password: PasswordOption = None,
    policy: PolicyOption = None,
) -> None:
    """Set a new password for a staff member and end their sessions."""
    from lawful.data.purpose import Actor
    from lawful.users import repository
    from lawful.users.models import PrincipalKind
    from lawful.users.service import AuthConfig, normalise_email, set_password

    settings, db = _staff_database(policy)
    try:
        with db.unit_of_work("staff_access", Actor.system("cli")) as session:
            staff = repository.by_email(session, PrincipalKind.staff, normalise_email(email))
            if staff is None:
                raise _fail(f"no staff member has the e-mail address {email!r}")
            set_password(
                session, staff, password=_new_password(password), cfg=AuthConfig.from_settings(settings)
            )
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    typer.echo(f"new password set for {staff.email}; their sessions have ended")


@staff_app.command("list")
def staff_list(policy: PolicyOption = None) -> None:
    """List the staff members: e-mail address, name, role, status, second factor, last sign-in."""
    from rich.table import Table

    from lawful.data.purpose import Actor
    from lawful.users.repository import staff_members

    _, db = _staff_database(policy)
    table = Table("e-mail address", "name", "role", "status", "second factor", "last sign-in")
    try:
        with db.unit_of_work("staff_access", Actor.system("cli")) as session:
            for staff in staff_members(session):
                last = staff.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if staff.last_login_at else "never"
                table.add_row(
                    staff.email,
                    staff.name,
                    staff.role.value,
                    staff.status.value,
                    "on" if staff.totp_secret else "off",
                    last,
                )
    finally:
        db.dispose()
    table_console().print(table)


monitoring_app = typer.Typer(
    help="Monitoring: roll up finished days, delete expired raw events and old salts.", no_args_is_help=True
)
app.add_typer(monitoring_app, name="monitoring")


@monitoring_app.command("maintain")
def monitoring_maintain(
    policy: PolicyOption = None,
    now: Annotated[
        datetime | None, typer.Option(help="act as if it were this moment (UTC), e.g. to test retention")
    ] = None,
) -> None:
    """Run the maintenance the server also runs every few minutes; prints what it did."""
    from lawful.monitoring import jobs

    _, db = _staff_database(policy)
    try:
        moment = now.replace(tzinfo=UTC) if now is not None and now.tzinfo is None else now
        report = jobs.run(db, now=moment)
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    for line in report.lines():
        typer.echo(line)


# --- usage services ---------------------------------------------------------------------------

usage_app = typer.Typer(
    help="The services that report usage for fees (POST /api/v1/usage) and their API keys.",
    no_args_is_help=True,
)
app.add_typer(usage_app, name="usage-service")


def _usage_service(session: Session, name_or_id: str) -> UsageService:
    """The service named ``name_or_id``, or with that id; a failure otherwise."""
    import uuid

    from sqlalchemy import select

    from lawful.monitoring.models import UsageService

    try:
        condition = UsageService.id == uuid.UUID(name_or_id)
    except ValueError:
        condition = UsageService.name == name_or_id
    found = session.scalar(select(UsageService).where(condition))
    if found is None:
        raise _fail(f"no usage service is named {name_or_id!r} or has that id")
    return found


@contextmanager
def _usage_unit(policy: Path | None) -> Iterator[Session]:
    """A unit of work under ``monitoring`` for the usage-service commands; errors exit with a message."""
    from lawful.data.purpose import Actor

    _, db = _staff_database(policy)
    try:
        with db.unit_of_work("monitoring", Actor.system("cli")) as session:
            yield session
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()


@usage_app.command("create")
def usage_service_create(
    name: Annotated[str, typer.Argument(help="the service's name, e.g. 'Invoicing app'")],
    policy: PolicyOption = None,
) -> None:
    """Register a service and print its key, once: only a hash of it is stored."""
    from lawful.monitoring import usage

    with _usage_unit(policy) as session:
        service, key = usage.create_service(session, name=name)
        prefix = service.key_prefix
    console.print(f"registered {name!r} ({prefix}…); its key is shown this once:", highlight=False)
    typer.echo(key)


@usage_app.command("rotate")
def usage_service_rotate(
    service: Annotated[str, typer.Argument(help="the service's name or id")],
    policy: PolicyOption = None,
) -> None:
    """Give a service a new key and print it, once; the old key stops working at once."""
    from lawful.monitoring import usage

    with _usage_unit(policy) as session:
        found = _usage_service(session, service)
        rotated, key = usage.rotate_key(session, found.id)
        name = rotated.name
    console.print(f"new key for {name!r}; it is shown this once:", highlight=False)
    typer.echo(key)


@usage_app.command("revoke")
def usage_service_revoke(
    service: Annotated[str, typer.Argument(help="the service's name or id")],
    policy: PolicyOption = None,
) -> None:
    """Revoke a service's key for good; the usage it reported stays counted."""
    from lawful.monitoring import usage

    with _usage_unit(policy) as session:
        found = _usage_service(session, service)
        usage.revoke_service(session, found.id)
        name = found.name
    typer.echo(f"revoked {name!r}")


@usage_app.command("list")
def usage_service_list(policy: PolicyOption = None) -> None:
    """List the services: name, id, the start of the key, registered, last used, status."""
    from rich.table import Table

    from lawful.monitoring import usage

    table = Table("name", "id", "key starts with", "registered", "last used", "status")
    with _usage_unit(policy) as session:
        for service in usage.list_services(session):
            table.add_row(
                service.name,
                str(service.id),
                service.key_prefix,
                service.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                service.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if service.last_used_at else "never",
                f"revoked {service.revoked_at:%Y-%m-%d}" if service.revoked_at else "active",
            )
    table_console().print(table)


# --- billing ----------------------------------------------------------------------------------

bill_app = typer.Typer(
    help="Billing: draft a month's invoices, finalise them, run the daily job, export documents.",
    no_args_is_help=True,
)
app.add_typer(bill_app, name="bill")
PeriodOption = Annotated[str, typer.Option("--period", help="the usage month, YYYY-MM")]
TodayOption = Annotated[
    datetime | None, typer.Option("--today", help="act as if it were this day (UTC), e.g. 2026-12-03")
]


def _month(value: str) -> date:
    from lawful.monitoring.usage_repository import parse_month

    try:
        return parse_month(value)
    except LawfulError as exc:
        raise _fail(exc.message) from None


def _day(today: datetime | None) -> date:
    return today.date() if today is not None else datetime.now(UTC).date()


@bill_app.command("run")
def bill_run(
    period: PeriodOption,
    finalise: Annotated[
        bool, typer.Option("--finalise", help="finalise the drafts afterwards (the month must be over)")
    ] = False,
    today: TodayOption = None,
    policy: PolicyOption = None,
) -> None:
    """Make or update the draft invoices of every active subscription for one month."""
    from lawful.billing import service
    from lawful.data.purpose import Actor

    month = _month(period)
    settings, db = _staff_database(policy)
    actor = Actor.system("cli")
    try:
        with _bar() as bar:
            task = bar.add_task(f"rating and drafting {period}", total=None)
            summary = service.run(
                db,
                month,
                settings=settings,
                actor=actor,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
            lines = summary.lines()
            failed = False
            if finalise:
                more, failed = _finalise(db, settings, bar, month, _day(today), actor)
                lines += more
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    for line in lines:
        typer.echo(line)
    if failed:
        raise typer.Exit(1)


def _finalise(
    db: Database, settings: Settings, bar: Progress, month: date | None, today: date, actor: Actor
) -> tuple[list[str], bool]:
    """Finalise drafts with a progress bar, then send them when SMTP is configured."""
    from lawful.billing import service

    step = bar.add_task("finalising" + (f" {month:%Y-%m}" if month else ""), total=None)
    done = service.finalise_drafts(
        db,
        today=today,
        settings=settings,
        period=month,
        actor=actor,
        progress=lambda d, t: bar.update(step, completed=d, total=t),
    )
    lines = [
        f"finalised: {len(done.numbers)}"
        + (f" ({done.numbers[0]} to {done.numbers[-1]})" if done.numbers else "")
    ]
    lines += [f"not finalised: {f}" for f in done.failed]
    if settings.smtp_host:
        lines.append(f"e-mails sent: {service.send_pending(db, settings)}")
    return lines, bool(done.failed)


@bill_app.command("finalise")
def bill_finalise(
    period: Annotated[str | None, typer.Option("--period", help="only this month's drafts, YYYY-MM")] = None,
    today: TodayOption = None,
    policy: PolicyOption = None,
) -> None:
    """Finalise drafts: each gets the next number of its series and is e-mailed to the customer."""
    from lawful.data.purpose import Actor

    month = _month(period) if period else None
    settings, db = _staff_database(policy)
    try:
        with _bar() as bar:
            lines, failed = _finalise(db, settings, bar, month, _day(today), Actor.system("cli"))
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    for line in lines:
        typer.echo(line)
    if failed:
        raise typer.Exit(1)


@bill_app.command("daily")
def bill_daily(today: TodayOption = None, policy: PolicyOption = None) -> None:
    """The job the server runs every day: draft last month, finalise it once the grace period is over."""
    from lawful.billing import service

    settings, db = _staff_database(policy)
    try:
        report = service.daily(db, settings=settings, today=_day(today))
        sent = service.send_pending(db, settings)
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    for line in report.lines():
        typer.echo(line)
    if settings.smtp_host:
        typer.echo(f"e-mails sent: {sent}")


class DocumentFormat(enum.StrEnum):
    pdf = "pdf"
    ubl = "ubl"


@bill_app.command("export")
def bill_export(
    number: Annotated[str, typer.Argument(help="the invoice or credit note number, e.g. 2026-000123")],
    output: Annotated[Path, typer.Option("--out", "-o", help="the file to write", dir_okay=False)],
    format: Annotated[
        DocumentFormat, typer.Option("--format", help="pdf (Factur-X) or ubl (XML)")
    ] = DocumentFormat.pdf,
    policy: PolicyOption = None,
) -> None:
    """Write a finalised invoice's document, as stored when it was first rendered."""
    from sqlalchemy import select

    from lawful.billing.invoices import documents
    from lawful.billing.models import Invoice
    from lawful.data.purpose import Actor

    settings, db = _staff_database(policy)
    try:
        with db.unit_of_work("legal_obligation", Actor.system("cli")) as session:
            invoice = session.scalar(select(Invoice).where(Invoice.number == number))
            if invoice is None:
                raise _fail(f"no finalised invoice has number {number!r}")
            stored = documents(session, invoice, policy=db.policy, settings=settings)
            content = stored.pdf if format is DocumentFormat.pdf else stored.ubl
    except LawfulError as exc:
        raise _fail(exc.message) from None
    finally:
        db.dispose()
    output.write_bytes(content)
    typer.echo(f"{output}: {len(content):,} bytes")


# --- retention (the commands live with their domain) ----------------------------------------

from lawful.retention.cli import app as retention_app  # noqa: E402

app.add_typer(retention_app, name="retention")

from lawful.agreements.cli import app as documents_app  # noqa: E402

app.add_typer(documents_app, name="documents")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
