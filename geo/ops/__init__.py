"""Operations: what the database's availability, backups and health mean for the service."""
