"""Community services beyond single requests: the demand and resource lists with matching
(`lists/`), and the residents' council (`council/`)."""
