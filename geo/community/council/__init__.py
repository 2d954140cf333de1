"""候鸟议事会: the residents' council: meetings with attendance and minutes, and suggestions
through their pipeline with a public reply."""
