"""aion.cli."""
