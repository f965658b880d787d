"""Contract-faithful fake platform servers (Starlette apps) for tests."""
