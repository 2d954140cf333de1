"""The spatial core: coordinate systems, grid cells and boundary releases, locating
points (one at a time and in batches), addresses, places and the feature layers."""
