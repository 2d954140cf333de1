"""For planners: residents in aggregate (one window, small counts suppressed) and the
density map data built from them; never a person or a point."""
