"""Pure functions and value types: kronos time, time-UUIDs, events, schemas. No I/O."""
