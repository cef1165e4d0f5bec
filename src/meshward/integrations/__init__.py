"""Integrations: ticket trackers (Jira, GitHub) and notification channels."""
