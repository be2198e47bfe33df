"""aion.server."""
