"""aion.streams."""
