"""Version orderings and name rules, one module per package ecosystem."""
