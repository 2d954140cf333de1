"""Append-only, hash-chained audit log. Use: ``audit.record(session, me, "resident.read",
object_type="resident", object_ids=[r.id])`` with ``from geo.audit import service as audit``."""
