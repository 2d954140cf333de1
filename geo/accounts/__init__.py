"""Accounts, passwords, tokens and API keys. Services: `geo.accounts.service` (accounts),
`geo.accounts.tokens` (login, refresh, logout, token checks), `geo.accounts.apikeys`."""
