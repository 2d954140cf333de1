"""What every domain stands on: settings, the database session, the declarative base,
errors, the one city clock (`clock`), migrations, structured logs and input rules."""
