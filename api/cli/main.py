"""Root of the `houniao` CLI; sub-apps register here."""

from __future__ import annotations

from api.cli import (
    audit,
    bookings,
    boundaries,
    cases,
    contacts,
    core,
    db,
    export,
    geocode,
    ops,
    planning,
    planning_exports,
    privacy,
    residents,
    roads,
    services,
    synthetic,
    users,
)
from api.cli.errors import root_app
from geo.models import load_models

load_models()  # every table, encrypted column and purger (geo/models.py), before any command

app = root_app(help="Houniao 候鸟: grid management for seasonal residents.", no_args_is_help=True)
app.add_typer(db.app, name="db")
app.add_typer(boundaries.load_app, name="load")
boundaries.load_app.command("synthetic")(synthetic.load_synthetic)
app.add_typer(boundaries.import_app, name="import")
boundaries.import_app.command("residents")(residents.import_residents)
boundaries.import_app.command("roads")(roads.import_roads)
app.add_typer(boundaries.releases_app, name="releases")
app.add_typer(export.app, name="export")
app.add_typer(users.app, name="users")
app.add_typer(privacy.app, name="privacy")
app.add_typer(audit.app, name="audit")
app.add_typer(bookings.app, name="bookings")
app.add_typer(services.app, name="services")
app.add_typer(contacts.app, name="contacts")
app.add_typer(ops.backup_app, name="backup")
app.add_typer(planning.app, name="planning")
planning.app.command("export")(planning_exports.export_cmd)
app.add_typer(planning_exports.report_app, name="report")
core.register(app)
geocode.register(app)
cases.register(app)
ops.register(app)
