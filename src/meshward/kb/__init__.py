"""The threat-modelling knowledge base: schema, rule conditions, facts, loader, content."""
