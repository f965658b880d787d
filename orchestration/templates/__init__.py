"""Pre-built workflow templates (the spec's n8n workflows and Make scenarios) as package data."""
