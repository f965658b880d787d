"""Workflow definitions, the condition language, schedules and the internal step engine."""
