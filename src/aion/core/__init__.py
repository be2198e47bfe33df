"""Pure functions and value types every layer shares: kronos time (``time``), time-UUIDs
(``ids``), events and their validation (``events``), JSON Schema inference (``schema``),
bounded JSON bodies (``jsonbody``), shard hashing (``sharding``) and the StreamLog contract
with its rules (``streamlog``, ``streamlog_rules``).

The seam: the bottom layer. No I/O, no drivers; it imports only :mod:`aion.errors`, and
everything else may import it.
"""
