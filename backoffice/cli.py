"""Flask commands: keys, roles, demo data, audit checks and the anonymisation check.

Every command of these groups runs in ``transactions.unit_of_work()``: it commits once when
it ends well and rolls back when it fails; long ones keep their progress with
``transactions.checkpoint()``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backoffice.services.statistics.funder_reports import LANGUAGES as REPORT_LANGUAGES
from backoffice.transactions import checkpoint, unit_of_work


class CommandGroup(AppGroup):
    """An ``AppGroup`` whose commands each run as one unit of work."""

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)

        def decorator(function):
            @functools.wraps(function)
            def in_unit_of_work(*call_args, **call_kwargs):
                with unit_of_work():
                    return function(*call_args, **call_kwargs)

            return register(in_unit_of_work)

        return decorator


keys_cli = CommandGroup("keys", help="Create and rotate the encryption keys.")
roles_cli = CommandGroup("roles", help="Keep roles and permissions in sync with the views.")
demo_cli = CommandGroup("demo", help="Demonstration data for a newcomer.")
audit_cli = CommandGroup("audit", help="Check the audit trail.")
scheduler_cli = CommandGroup("scheduler", help="Run the scheduled jobs.")
directory_cli = CommandGroup(
    "directory", help="The directory of structures: CSV import and export."
)
alerts_cli = CommandGroup("alerts", help="Published alerts: printable sheets.")
dispatch_cli = CommandGroup("dispatch", help="Send queued alert deliveries.")
reports_cli = CommandGroup("reports", help="Build the funder and advocacy reports.")
statistics_cli = CommandGroup("statistics", help="The statistics' daily rollup.")
retention_cli = CommandGroup("retention", help="The retention schedule of reports.")
users_cli = CommandGroup(
    "users", help="Staff accounts: changes that open confidential data wait for a second Admin."
)


def register_commands(app: Flask) -> None:
    for group in (keys_cli, roles_cli, demo_cli, audit_cli, scheduler_cli, users_cli):
        app.cli.add_command(group)
    app.cli.add_command(anonymise_command)
    app.cli.add_command(directory_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(dispatch_cli)
    app.cli.add_command(reports_cli)
    app.cli.add_command(statistics_cli)
    app.cli.add_command(retention_cli)


def _key_file() -> Path:
    path = current_app.config.get("BACKOFFICE_KEY_FILE")
    if not path:
        raise click.ClickException("Set BACKOFFICE_KEY_FILE to the path of the key file.")
    return Path(path)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path.with_suffix(".tmp"), path)


@keys_cli.command("generate")
@click.option("--force", is_flag=True, help="Replace an existing key file (data is then lost).")
@click.option("--if-missing", is_flag=True, help="Do nothing when the key file exists.")
def keys_generate(force: bool, if_missing: bool) -> None:
    """Create a key file with a fresh root key and blind-index key."""
    from backoffice.services.crypto import Keyring

    path = _key_file()
    if path.exists() and if_missing:
        return
    if path.exists() and not force:
        raise click.ClickException(
            f"{path} exists; refusing to overwrite keys (data would be lost)."
        )
    _write_private(path, Keyring.generate().to_json())
    click.echo(f"Key file written to {path} (mode 600). Keep it out of database backups.")


@keys_cli.command("rotate")
@click.option(
    "--settle",
    default=None,
    type=float,
    help="Seconds to wait before the last sweep (default: twice the key refresh period).",
)
def keys_rotate(settle: float | None) -> None:
    """Add a new active root key and re-wrap every data key with it."""
    from backoffice.services.key_rotation import rotate

    path = _key_file()
    keyring = current_app.extensions.get("keyring")
    if keyring is None:
        raise click.ClickException("No key material loaded; run `keys generate` first.")
    new_keyring = keyring.with_new_active_key()
    # The file is written first: if re-wrapping stops half-way, both keys are still there
    # and every data key stays readable.
    _write_private(path, new_keyring.to_json())
    current_app.extensions["keyring"] = new_keyring
    count = rotate(new_keyring, settle_seconds=settle)
    click.echo(f"Active key is now {new_keyring.active_id}; {count} keys and values moved to it.")


@keys_cli.command("used")
def keys_used() -> None:
    """How many data keys and sealed values each root key still protects (retire a key
    from the key file only when it shows 0 or is not listed)."""
    from backoffice.services.key_rotation import keys_still_used

    keyring = current_app.extensions.get("keyring")
    if keyring is None:
        raise click.ClickException("No key material loaded; run `keys generate` first.")
    used = keys_still_used(keyring)
    for key_id in sorted(keyring.root_keys):
        active = " (active)" if key_id == keyring.active_id else ""
        click.echo(f"{key_id}{active}: {used.get(key_id, 0)}")
    for key_id in sorted(set(used) - set(keyring.root_keys)):
        click.echo(f"{key_id} (MISSING from the key file): {used[key_id]}")


@roles_cli.command("sync")
def roles_sync() -> None:
    """Create the roles of DESIGN.md and give them exactly the declared permissions."""
    from backoffice.security import sync_roles

    appbuilder = current_app.appbuilder
    appbuilder.add_permissions(update_perms=True)
    sync_roles(appbuilder)
    click.echo("Roles and permissions are in sync.")


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Only seed a database without organisations.")
def demo_seed(if_empty: bool) -> None:
    """Create demo organisations, one user per role and a demo API client."""
    from backoffice.demo import seed
    from backoffice.demo.base import DemoRefused

    try:
        summary = seed(only_if_empty=if_empty)
    except DemoRefused as refusal:
        raise click.ClickException(str(refusal)) from None
    if summary is None:
        click.echo("Demo data already present.")
        return
    click.echo(summary)


@demo_cli.command("logins")
def demo_logins() -> None:
    """Print the demo accounts and where the demo API key is."""
    from backoffice.demo import USERS
    from backoffice.demo.base import DemoRefused, demo_password

    try:
        password = demo_password()
    except DemoRefused as refusal:
        raise click.ClickException(str(refusal)) from None
    click.echo(f"Demo logins (password: {password}):")
    required = ", ".join(current_app.config.get("SECOND_FACTOR_REQUIRED_ROLES") or ()) or "none"
    click.echo(f"  (roles that enrol a second factor at first sign-in: {required})")
    for username, _first, role, organisation in USERS:
        click.echo(f"  {username:<18} {role:<13} {organisation}")
    click.echo(f"Demo API key: {Path(current_app.instance_path) / 'demo_api_key.txt'}")
    click.echo("Open http://127.0.0.1:5000 and sign in.")


@audit_cli.command("verify")
@click.option("--checkpoints", default=None, help="Folder of checkpoints (AUDIT_CHECKPOINT_DIR).")
def audit_verify(checkpoints: str | None) -> None:
    """Walk the audit chain; exit 1 and name the first broken row when it is broken."""
    from backoffice.services import audit

    check = audit.verify_chain(checkpoints)
    if not check.intact:
        click.echo(
            f"Audit trail broken at event {check.broken_id} (chain position "
            f"{check.broken_index}): {check.reason}. {check.count} events read.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"The audit chain is intact: {check.count} events.")


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Export a signed checkpoint of the chain head to AUDIT_CHECKPOINT_DIR now."""
    from backoffice.services import audit

    path = audit.export_checkpoint()
    click.echo(f"Checkpoint written: {path}" if path else "No checkpoint (no folder or no event).")


@audit_cli.command("prune")
@click.option("--dry-run", is_flag=True, help="Print the counts; change nothing.")
def audit_prune(dry_run: bool) -> None:
    """Turn audit events past their retention period into tombstones (checkpoint first)."""
    from backoffice.services import audit_retention

    counts = (audit_retention.preview if dry_run else audit_retention.prune)()
    verb = "would be pruned" if dry_run else "pruned"
    click.echo(f"Read events {verb}: {counts.reads}; change events {verb}: {counts.changes}.")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground (production: its own process)."""
    from backoffice.jobs import JOBS, build_scheduler

    # Each run and each failure is logged (journalctl -u backoffice-worker).
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is ours
    click.echo(f"Scheduler started with jobs: {', '.join(sorted(JOBS)) or 'none'}")
    build_scheduler(current_app._get_current_object(), blocking=True).start()


@scheduler_cli.command("job")
@click.argument("name")
def scheduler_job(name: str) -> None:
    """Run one job now, under its lock."""
    from backoffice.jobs import JOBS, run_job

    if name not in JOBS:
        raise click.ClickException(f"Unknown job {name!r}; known: {', '.join(sorted(JOBS))}")
    ran = run_job(current_app._get_current_object(), name)
    click.echo("Done." if ran else "Already running elsewhere; nothing done.")


@click.command("anonymise")
@click.option("--lang", default="fr", show_default=True, help="Language of the narrative.")
@click.option("--keep", multiple=True, help="An aggressor identifier to keep (repeatable).")
def anonymise_command(lang: str, keep: tuple[str, ...]) -> None:
    """Read a narrative on standard input and print the proposed redaction as JSON."""
    from backoffice.services.anonymise import redact_for_cli

    text = sys.stdin.read()
    click.echo(json.dumps(redact_for_cli(text, lang, list(keep)), ensure_ascii=False))


@alerts_cli.command("sheet")
@click.option("--lang", required=True, help="Alert language: fr, en, es, pt, ro, bg, zh, ru…")
@click.option("--department", help="The week's published alerts of this department.")
@click.option("--reference", help="One published alert (A-2026-000045).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="PDF file.")
def alerts_sheet(lang: str, department: str | None, reference: str | None, out: str) -> None:
    """Write the printable sheet of published alerts (one, or a department's week)."""
    from reports_pdf.alert_sheet import SheetError, published_sheet

    try:
        pdf, count = published_sheet(lang, department=department, reference=reference)
    except SheetError as error:
        raise click.ClickException(str(error)) from None
    Path(out).write_bytes(pdf)
    click.echo(f"{out}: {count} alert(s), {len(pdf)} bytes.")


@dispatch_cli.command("run")
@click.option("--until-idle", is_flag=True, help="Stop once nothing is due (else run forever).")
@click.option("--pause", default=2.0, show_default=True, help="Seconds to wait when idle.")
def dispatch_run(until_idle: bool, pause: float) -> None:
    """A dispatch worker: claim, send and record deliveries (run several for more speed).

    Safe next to the scheduled job and to other workers: rows are claimed one batch at a
    time (SKIP LOCKED on PostgreSQL) and a killed worker's rows are taken over once its
    lease ends.
    """
    import time

    from backoffice.services.dispatch import dispatch_due
    from reports_pdf.alert_sheet import build_alert_sheet

    while True:
        stats = dispatch_due(partner_sheet=build_alert_sheet)
        click.echo(
            f"sent {stats.sent}, failed {stats.failed}, retried {stats.retried}, "
            f"released {stats.released}, cancelled {stats.cancelled}"
        )
        if stats.claimed == 0:
            if until_idle:
                return
            time.sleep(pause)


@directory_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
def directory_import(path: Path, dry_run: bool) -> None:
    """Import structures from a CSV file (the format of the import page)."""
    from backoffice.services.directory import import_csv

    report = import_csv(path.read_bytes(), dry_run=dry_run)
    if report.error:
        checkpoint()  # nothing was imported, but the refusal stays in the audit trail
        raise click.ClickException(f"nothing imported: {report.error}")
    for rejected in report.rejected:
        click.echo(f"line {rejected.line}: {'; '.join(rejected.reasons)}", err=True)
    for warning in report.warnings:
        click.echo(f"line {warning.line} (check): {warning.message}", err=True)
    prefix = "check only, would give: " if dry_run else ""
    click.echo(
        f"{prefix}{report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
    )


@directory_cli.command("import-finess")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Read the extract and report; write nothing.")
def directory_import_finess(path: Path, dry_run: bool) -> None:
    """Import health establishments from the FINESS open-data extract (idempotent)."""
    from backoffice.services import finess

    def progress(lines: int) -> None:
        click.echo(f"... {lines} lines read", err=True)

    try:
        report = finess.import_finess(path.read_bytes(), dry_run=dry_run, progress=progress)
    except finess.FinessFileError as error:
        raise click.ClickException(f"nothing imported: {error}") from None
    for rejected in report.rejected:
        click.echo(f"FINESS {rejected.label}: {'; '.join(rejected.reasons)}", err=True)
    for line in finess.summary(report):
        click.echo(line)


@directory_cli.command("export")
@click.option("--department", help="Only this department (e.g. 75, 2A, 974).")
@click.option("--service", help="Only structures offering this service code (e.g. pep).")
@click.option("--inactive", is_flag=True, help="Include inactive structures.")
def directory_export(department: str | None, service: str | None, inactive: bool) -> None:
    """Write the directory as CSV to standard output (the import format)."""
    from backoffice.services.directory import DirectoryFilters, export_csv

    args = {"department": department or "", "service": service or ""}
    filters = DirectoryFilters.from_args(
        {**args, "inactive": "1" if inactive else ""}, allow_inactive=True
    )
    text, _count = export_csv(filters)
    click.echo(text, nl=False)


@reports_cli.command("build")
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
@click.option(
    "--lang", "language", type=click.Choice(REPORT_LANGUAGES), default="fr", show_default=True
)
@click.option("--department", default=None, help="Only this department (e.g. 75).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def reports_build(start: str, end: str, language: str, department: str | None, out: str) -> None:
    """Build a funder report (kept in the list of built reports) and write it to OUT."""
    from backoffice.services.statistics import Period, PeriodError, funder_reports
    from reports_pdf.funder_report import build_now

    try:
        period = Period.parse(start, end)
        report = build_now(period, language, department, trigger="command")
    except (PeriodError, funder_reports.BuildRefused) as error:
        raise click.ClickException(str(error.message)) from None
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    Path(out).write_bytes(report.pdf)
    click.echo(
        f"{out}: {report.size_bytes} bytes, sha256 {report.sha256}, "
        f"built in {report.build_seconds:.1f} s (report #{report.id})"
    )


@statistics_cli.command("rebuild")
def statistics_rebuild() -> None:
    """Recompute the whole daily rollup now (as the nightly job does)."""
    from backoffice.services.statistics import rebuild_rollup

    rebuild_rollup()
    click.echo("Statistics rollup rebuilt.")


@retention_cli.command("preview")
def retention_preview() -> None:
    """What the next retention run would do, in counts (no reference, no personal data)."""
    from backoffice.services import retention

    for line in retention.preview():
        held = f", {line.held} kept for a followed case" if line.held else ""
        click.echo(
            f"{line.code}: {line.due} report(s) due (period {line.period} {line.unit}){held}"
        )


@retention_cli.command("run")
def retention_run() -> None:
    """Apply the retention schedule now (as the nightly job does); batches are committed."""
    from backoffice.services import retention

    for code, count in retention.apply_retention().items():
        click.echo(f"{code}: {count} report(s)")


# -- staff accounts: four-eyes grants -----------------------------------------------------
def _account(username: str):
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models.user import StaffUser

    user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise click.ClickException(f"No account {username!r}.")
    return user


@users_cli.command("request")
@click.argument("username")
@click.option("--by", "by", required=True, help="The Admin asking (another Admin approves).")
@click.option("--add-role", multiple=True, help="A role to grant (repeatable).")
@click.option("--remove-role", multiple=True, help="A role to take away (repeatable).")
@click.option("--organisation", help="The account's new organisation (its name).")
@click.option("--reset-password", is_flag=True, help="Choose a new password (asked for).")
@click.option("--reset-second-factor", is_flag=True, help="Remove the account's second factor.")
@click.option("--reason", help="Why (shown to the Admin who decides).")
def users_request(
    username: str,
    by: str,
    add_role: tuple[str, ...],
    remove_role: tuple[str, ...],
    organisation: str | None,
    reset_password: bool,
    reset_second_factor: bool,
    reason: str | None,
) -> None:
    """Change an account: what opens confidential data becomes a pending request."""
    from backoffice import security
    from backoffice.services import grants

    requester, user = _account(by), _account(username)
    if not requester.active or not security.can("approve_grants", requester):
        raise click.ClickException(f"{by} is not an active Admin: nobody may ask in their name.")
    before = grants.snapshot(user)
    _change_roles(user, add_role, remove_role)
    if organisation is not None:
        user.organisation_id = _organisation_id(organisation)
        user.organisation = None
    held = grants.hold_sensitive_changes(user, before)
    requests = grants.open_requests(user, held, requester, reason)
    if reset_password:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        _check_password(password)
        requests.append(grants.request_password_reset(user, password, requester, reason))
    if reset_second_factor:
        requests.append(grants.request_second_factor_reset(user, requester, reason))
    _audit_cli_update(user, before, requests, requester)
    for grant in requests:
        click.echo(f"Request #{grant.id} ({grant.kind}) awaits another Admin's approval.")
    if not requests:
        click.echo("Changed at once (nothing that needs a second Admin).")


def _change_roles(user, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    for name in add:
        role = _role(name)
        if role not in user.roles:
            user.roles.append(role)
    user.roles = [role for role in user.roles if role.name not in set(remove)]


def _organisation_id(name: str) -> int:
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models.organisation import Organisation

    organisation_id = db.session.scalar(select(Organisation.id).where(Organisation.name == name))
    if organisation_id is None:
        raise click.ClickException(f"No organisation {name!r}.")
    return organisation_id


def _check_password(password: str) -> None:
    validator = current_app.config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR")
    if validator is None:
        return
    try:
        validator(password)
    except Exception as error:  # FAB's validators raise wtforms' ValidationError
        raise click.ClickException(str(error)) from None


def _audit_cli_update(user, before: dict, requests: list, requester) -> None:
    from backoffice.services import audit, grants

    audit.record(
        "user_updated",
        user,
        object_type="User",
        actor=requester,
        details={
            "before": before,
            "after": grants.snapshot(user),
            "pending": [grant.id for grant in requests],
            "by": "command",
        },
    )


@users_cli.command("create")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--organisation", help="The account's organisation (its name); Admins may have none.")
@click.option("--role", "role_names", multiple=True, required=True, help="Repeatable.")
@click.option("--by", "by", help="The Admin asking (required once two Admins exist).")
def users_create(
    username: str,
    email: str,
    first_name: str,
    last_name: str,
    organisation: str | None,
    role_names: tuple[str, ...],
    by: str | None,
) -> None:
    """Create an account; its sensitive roles wait for a second Admin.

    Bootstrap: while fewer than two active accounts may approve requests, the roles apply at
    once (nobody could approve the first Admins); whoever runs this holds the database anyway.
    """
    from sqlalchemy import func, select

    from backoffice import security
    from backoffice.extensions import db
    from backoffice.services import audit, grants

    approvers = db.session.scalar(
        select(func.count()).select_from(security.holders("approve_grants").subquery())
    )
    bootstrap = approvers < 2
    requester = _account(by) if by else None
    if not bootstrap and (requester is None or not security.can("approve_grants", requester)):
        raise click.ClickException("Two Admins exist: name the Admin asking with --by ADMIN.")
    sm = current_app.appbuilder.sm
    if sm.find_user(username=username) is not None:
        raise click.ClickException(f"{username} exists already.")
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _check_password(password)
    roles = [_role(name) for name in role_names]
    user = sm.add_user(username, first_name, last_name, email, roles, password, commit=False)
    if not user:
        raise click.ClickException("The account could not be created.")
    user.organisation_id = _organisation_id(organisation) if organisation else None
    before = {"roles": [], "organisation_id": user.organisation_id}
    held = [] if bootstrap else grants.hold_sensitive_changes(user, before)
    requests = grants.open_requests(user, held, requester) if held else []
    audit.record(
        "user_created",
        user,
        object_type="User",
        actor=requester,
        details={
            "after": grants.snapshot(user),
            "pending": [g.id for g in requests],
            "by": "bootstrap" if bootstrap else "command",
        },
    )
    click.echo(f"Account {username} created with roles {sorted(user.role_names)}.")
    for grant in requests:
        click.echo(f"Request #{grant.id} ({grant.kind}) awaits another Admin's approval.")


def _role(name: str):
    role = current_app.appbuilder.sm.find_role(name)
    if role is None or name in ("Superuser", "Public"):
        raise click.ClickException(f"No role {name!r} to grant.")
    return role


@users_cli.command("requests")
def users_requests() -> None:
    """List the requests that wait for a second Admin."""
    from backoffice.services import grants

    pending = grants.pending()
    for grant in pending:
        click.echo(
            f"#{grant.id} {grant.created_at:%Y-%m-%d %H:%M} UTC {grant.kind}: "
            f"{grant.target.username} asked by {grant.requester.username} "
            f"{grant.before} -> {grant.after}"
        )
    click.echo(f"{len(pending)} pending; decide them on the Access requests screen.")
