"""Road and footpath networks for walking distances (pgRouting)."""
