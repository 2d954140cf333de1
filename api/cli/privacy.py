"""`houniao privacy purge|rotate-keys|rehash|check`: retention, key rotation, validation."""

from __future__ import annotations

from datetime import date

import typer

from api.cli.output import err, print_json, progress_bar
from api.cli.users import cli_actor
from geo.access.principal import as_system
from geo.audit import service as audit
from geo.core.config import security_settings
from geo.core.db import session_scope
from geo.privacy import crypto, ids, masking, retention

app = typer.Typer(
    help="Personal data: retention, encryption keys, validation.", no_args_is_help=True
)
open_session = session_scope  # tests point this at their own session


@app.command("purge")
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="count, change nothing"),
    seasons: int | None = typer.Option(
        None, help="keep the last N seasons (default HOUNIAO_RETENTION_SEASONS)"
    ),
    today: str | None = typer.Option(None, help="ISO date to compute the cutoff from"),
) -> None:
    """Anonymise personal data of people not seen in the last N seasons; aggregates stay."""
    with open_session() as session:
        result = retention.purge(
            session,
            cli_actor(),
            today=date.fromisoformat(today) if today else None,
            seasons=seasons,
            dry_run=dry_run,
        )
        if dry_run:
            session.rollback()
    print_json(result)
    if dry_run:
        err.print("Dry run: nothing changed.")


@app.command("rotate-keys")
def rotate_keys(
    dry_run: bool = typer.Option(False, "--dry-run", help="count, change nothing"),
    batch_size: int = typer.Option(
        crypto.DEFAULT_BATCH, "--batch-size", min=1, help="rows per transaction (committed each)"
    ),
) -> None:
    """Re-encrypt every value written under an older key with HOUNIAO_ENCRYPTION_KEY_ID.

    Safe while the API serves: one short transaction per batch; run it again to resume."""

    def progress(column: str, done: int) -> None:
        err.print(f"{column}: {done} re-encrypted")

    with open_session() as session:
        counts = crypto.rekey_in_batches(
            session, batch_size=batch_size, dry_run=dry_run, begin=as_system, progress=progress
        )
        if not dry_run:
            as_system(session)
            audit.record(
                session,
                cli_actor(),
                "privacy.rekey",
                detail={"counts": counts, "active_key": crypto.default_keyring().active},
            )
        remaining = crypto.count_by_key(session)
    active = crypto.default_keyring().active
    print_json(
        {
            "active_key": active,
            "dry_run": dry_run,
            "batch_size": batch_size,
            "re_encrypted" if not dry_run else "to_re_encrypt": counts,
            "by_key": remaining,
        }
    )


@app.command("rehash")
def rehash(
    dry_run: bool = typer.Option(False, "--dry-run", help="count, change nothing"),
    batch_size: int = typer.Option(
        crypto.DEFAULT_BATCH, "--batch-size", min=1, help="rows per transaction (committed each)"
    ),
) -> None:
    """Recompute every lookup hash (phone, ID number) made with an older HMAC key under
    HOUNIAO_HMAC_KEY_ID, from the decrypted values.

    Safe while the API serves (it looks up under every configured key meanwhile): one short
    transaction per batch; run it again to resume. When `by_key` shows no hash under the old key
    id, remove that key."""
    active = security_settings().hmac_active_id
    with open_session() as session:
        todo = crypto.rehash_in_batches(session, dry_run=True, begin=as_system)
        session.rollback()
        if dry_run:
            counts = todo
        else:
            with progress_bar() as bar:
                tasks = {
                    label: bar.add_task(label, total=sum(n.values()) or 1)
                    for label, n in todo.items()
                }

                def progress(column: str, done: int) -> None:
                    bar.update(tasks[column], completed=done)

                counts = crypto.rehash_in_batches(
                    session, batch_size=batch_size, begin=as_system, progress=progress
                )
            as_system(session)
            audit.record(
                session, cli_actor(), "privacy.rehash", detail={"counts": counts, "key": active}
            )
        remaining = crypto.count_hashes_by_key(session)
    print_json(
        {
            "active_hmac_key": active,
            "dry_run": dry_run,
            "batch_size": batch_size,
            "rehashed" if not dry_run else "to_rehash": counts,
            "by_key": remaining,
        }
    )
    if dry_run:
        err.print("Dry run: nothing changed.")


@app.command("check")
def check(
    id_number: str | None = typer.Option(None, help="an 18-character ID number"),
    mobile: str | None = typer.Option(None, help="a mainland mobile number"),
) -> None:
    """Validate an ID number (GB 11643 check digit) and/or a mobile number; prints them masked."""
    out = {}
    if id_number:
        out["id_number"] = masking.mask_id_number(ids.validate_id_number(id_number))
    if mobile:
        out["mobile"] = masking.mask_phone(ids.validate_mobile(mobile))
    print_json({"valid": True, **out})
