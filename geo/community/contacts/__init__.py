"""Designated contacts and regular contact (专人对接、常态互动、党员联人头)."""
