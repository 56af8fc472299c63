"""The `rekisteri` command: serve, migrate, and the operator's controller, key and audit tasks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.config import get_settings
from app.db import make_engine, make_sessionmaker, resolve_database_url
from app.errors import DomainError
from app.models.api_keys import ApiKeyCreate, Role
from app.models.controllers import ProfileProblem
from app.models.profile import ControllerProfile

cli = typer.Typer(help="Rekisteri: the customer register and its GDPR rights.", no_args_is_help=True)
db_cli = typer.Typer(help="The database schema.", no_args_is_help=True)
controllers_cli = typer.Typer(help="Controllers (tenants).", no_args_is_help=True)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
audit_cli = typer.Typer(help="The audit log.", no_args_is_help=True)
retention_cli = typer.Typer(help="Retention: what the privacy notice promised to delete.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(controllers_cli, name="controllers")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(retention_cli, name="retention")

T = TypeVar("T")


def _database_url() -> str:
    """Resolve the database once and hand it to child processes, so they join the same server."""
    url = resolve_database_url(get_settings())
    os.environ["REKISTERI_DATABASE_URL"] = url
    return url


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction as the database owner (operator commands bypass tenancy)."""

    async def main() -> T:
        engine = make_engine(_database_url(), pool_size=1, max_overflow=0)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        problems = getattr(exc, "problems", None)  # an incomplete profile: say what is missing, item by item
        raise _fail(exc.detail + ("\n" + _problem_lines(problems) if problems else "")) from None


def _problem_lines(problems: list[ProfileProblem]) -> str:
    return "\n".join(
        f"  {'.'.join(map(str, p.loc))}: {p.kind}: {p.message} ({p.article})" if p.article else f"  {p.message}"
        for p in problems
    )


def upgrade_database(url: str) -> None:
    """Apply all migrations."""
    from alembic.config import Config

    from alembic import command

    # A source checkout has alembic/ beside app/; an installed package (the Docker image) runs from a
    # directory that holds it.
    candidates = (Path(__file__).resolve().parent.parent, Path.cwd())
    root = next((c for c in candidates if (c / "alembic" / "env.py").exists()), None)
    if root is None:
        raise _fail("the migrations (alembic/) are not here; run from the project directory")
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    config.attributes["url"] = url
    command.upgrade(config, "head")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations."""
    upgrade_database(_database_url())
    typer.echo("database is up to date")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the background worker in this process (one machine).")
    ] = False,
) -> None:
    """Serve the HTTP API (Swagger UI at /docs)."""
    import uvicorn

    url = _database_url()
    if get_settings().migrate_on_start:
        upgrade_database(url)
    if with_worker:
        os.environ["REKISTERI_WORKER_IN_PROCESS"] = "true"
        get_settings.cache_clear()  # the app reads its settings anew, in this process or a worker's
    # uvicorn re-raises SIGTERM after its graceful shutdown; exiting normally then lets the embedded
    # PostgreSQL stop with us (its stop runs at interpreter exit). An in-process worker that gave up sends
    # that SIGTERM itself: the exit status then says so.
    from app.worker import exit_status

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(exit_status()))
    typer.echo(f"serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=True,
    )


@cli.command()
def worker() -> None:
    """Run the background worker (webhook delivery) until stopped; run as many as you like.

    It waits for a database that went away; if it cannot run again within REKISTERI_WORKER_GIVE_UP_SECONDS it
    exits with status 1, for its supervisor to see.
    """
    from app.logging import configure
    from app.worker import WorkerGaveUp, run

    configure(get_settings().log_level)
    url = _database_url()
    typer.echo("worker started")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(url, own_signals=True))
    except WorkerGaveUp as exc:
        raise _fail(str(exc)) from None


def _profile(path: Path) -> ControllerProfile:
    try:
        return ControllerProfile.load(path)
    except FileNotFoundError:
        raise _fail(f"no such file: {path}") from None
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise _fail(f"{path} is not a valid profile:\n" + "\n".join(lines)) from None
    except ValueError as exc:  # TOML syntax
        raise _fail(f"{path} is not valid TOML: {exc}") from None


@controllers_cli.command("create")
def controllers_create(
    profile: Annotated[Path, typer.Option(help="The controller's profile (TOML), e.g. examples/sonmark.toml.")],
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="If the slug exists, print its id instead of failing.")
    ] = False,
) -> None:
    """Create a controller from its profile and print its id; an incomplete profile is refused, every problem
    listed (docs/privacy-notice.md)."""
    from app.actor import attach, system_actor
    from app.models.controllers import Controller
    from app.services.controllers import create_controller

    data = _profile(profile)

    async def work(session: AsyncSession) -> uuid.UUID:
        if if_missing:
            existing = await session.scalar(select(Controller.id).where(Controller.slug == data.slug))
            if existing is not None:
                return existing
        controller_id = uuid.uuid4()
        attach(session, system_actor(controller_id))
        controller = await create_controller(session=session, profile=data, controller_id=controller_id)
        return controller.id

    typer.echo(str(_run(work)))


@controllers_cli.command("update")
def controllers_update(
    profile: Annotated[Path, typer.Option(help="The controller's edited profile (TOML); its slug names it.")],
    draft: Annotated[
        bool, typer.Option("--draft", help="Save it as the draft, unpublished, and list what keeps it from publishing.")
    ] = False,
) -> None:
    """Replace a controller's profile; a change publishes a new version of its privacy notice.

    An incomplete profile (docs/privacy-notice.md) is refused, every problem listed; `--draft` keeps it unpublished.
    """
    from app.actor import attach, system_actor
    from app.services.controllers import find_controller, update_profile

    data = _profile(profile)
    if draft:
        _save_draft(data)
        return

    async def work(session: AsyncSession) -> tuple[int, str, bool]:
        found = await find_controller(session=session, slug_or_id=data.slug)
        actor = system_actor(found.id)
        attach(session, actor)
        _, notice, changed = await update_profile(session=session, actor=actor, content=data, expected=None)
        return notice.version, notice.notice_date.isoformat(), changed

    version, drawn_up, changed = _run(work)
    state = "published" if changed else "unchanged:"
    typer.echo(f"{data.slug}: {state} privacy notice version {version}, drawn up {drawn_up}")


def _save_draft(data: ControllerProfile) -> None:
    from app.actor import attach, system_actor
    from app.services.controllers import find_controller, save_draft

    async def work(session: AsyncSession) -> list[ProfileProblem]:
        found = await find_controller(session=session, slug_or_id=data.slug)
        actor = system_actor(found.id)
        attach(session, actor)
        _, problems = await save_draft(session=session, actor=actor, content=data)
        return problems

    problems = _run(work)
    if not problems:
        typer.echo(f"{data.slug}: draft saved; it is complete, publish it with `rekisteri controllers update`")
        return
    typer.echo(f"{data.slug}: draft saved, not published; {len(problems)} item(s) keep it from being published:")
    typer.echo(_problem_lines(problems))


@keys_cli.command("create")
def keys_create(
    controller: Annotated[str, typer.Option(help="The controller's id or slug.")],
    name: Annotated[str, typer.Option(help="The person or system that will hold the key.")],
    role: Annotated[Role, typer.Option(help="admin, agent, integration or auditor.")],
) -> None:
    """Issue an API key; the key alone is printed on the last line."""
    from app.actor import attach, system_actor
    from app.services.api_keys import create_key
    from app.services.controllers import find_controller

    try:
        data = ApiKeyCreate(name=name, role=role)
    except ValidationError:
        raise _fail("the name must be 1 to 200 characters") from None

    async def work(session: AsyncSession) -> tuple[str, str]:
        found = await find_controller(session=session, slug_or_id=controller)
        actor = system_actor(found.id)
        attach(session, actor)
        key, secret = await create_key(session=session, actor=actor, controller_id=found.id, data=data)
        return (
            f"{role.value} key {key.prefix}… for {found.slug} (id {key.id}); shown once, store it now:",
            secret,
        )

    note, secret = _run(work)
    typer.echo(note)
    typer.echo(secret)


@audit_cli.command("verify")
def audit_verify(
    controller: Annotated[
        str | None, typer.Option(help="Only this controller (id or slug); all of them by default.")
    ] = None,
) -> None:
    """Verify the audit chains; exit 1 naming the first broken link."""
    from app.models.audit import AuditVerification
    from app.models.controllers import Controller
    from app.services.audit import verify_controller
    from app.services.controllers import find_controller

    async def work(session: AsyncSession) -> list[tuple[str, AuditVerification]]:
        if controller is not None:
            found = await find_controller(session=session, slug_or_id=controller)
            controllers = [(found.id, found.slug)]
        else:
            query = select(Controller.id, Controller.slug).order_by(Controller.slug)
            controllers = [(row.id, row.slug) for row in await session.execute(query)]
        results = []
        for cid, slug in controllers:
            results.append((slug, await verify_controller(session=session, controller_id=cid)))
        return results

    broken = False
    for slug, result in _run(work):
        if result.ok:
            typer.echo(f"{slug}: ok ({result.events_checked} events)")
        else:
            broken = True
            typer.echo(f"{slug}: BROKEN at event {result.first_broken_seq}: {result.reason}")
    if broken:
        raise typer.Exit(code=1)


@retention_cli.command("sweep")
def retention_sweep(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be anonymised; change nothing.")] = False,
    controller: Annotated[
        str | None, typer.Option(help="Only this controller (id or slug); all of them by default.")
    ] = None,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="With --dry-run: what will have expired by this date."),
    ] = None,
) -> None:
    """Anonymise, through the audited path, what the controllers' retention rules say has expired.

    Prints one line per person (their id, why, and until when their data was kept: no personal data), then
    the counts. Safe to run again: what is done is not done twice.
    """
    from app.services import deadlines
    from app.worker import retention_anonymise, retention_controllers, retention_expired

    if as_of is not None and not dry_run:
        raise _fail("--as-of only looks ahead: use it with --dry-run")
    today = as_of.date() if as_of is not None else deadlines.today()

    async def main() -> None:
        engine = make_engine(_database_url(), pool_size=1, max_overflow=0)
        maker = make_sessionmaker(engine)
        try:
            found = await retention_controllers(maker, controller)
            if controller is not None and not found:
                raise _fail(f"no such controller: {controller}")
            for each in found:
                report = await retention_expired(maker, each.id, today)
                for entry in report.expired:
                    typer.echo(f"{report.controller}\t{entry.customer_id}\t{entry.reason}\t{entry.detail}")
                if report.customer_years is None:
                    typer.echo(f"{report.controller}: the profile sets no retention period for customer data", err=True)
                else:
                    kept = f"kept {report.customer_years} years from the end of the customer relationship"
                    typer.echo(f"{report.controller}: customer data is {kept}")
                if not dry_run and report.expired:
                    with typer.progressbar(length=len(report.expired), label=report.controller, file=sys.stderr) as bar:
                        await retention_anonymise(maker, report, each.id, today, progress=bar.update)
                left = ", ".join(f"{n} {why}" for why, n in report.left.items() if n) or "none"
                done = f"{len(report.expired)} would be anonymised" if dry_run else f"{report.anonymised} anonymised"
                typer.echo(f"{report.controller}: {done}; left as they are: {left}")
        finally:
            await engine.dispose()

    asyncio.run(main())


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="rekisteri")


if __name__ == "__main__":
    main()
