"""aion.compat."""
