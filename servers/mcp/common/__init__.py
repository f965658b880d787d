"""What every Switchboard MCP server shares: caller resolution and roles, app state and
lifespan, guarded tool registration, untrusted-text fences, result budgets, error messages."""
