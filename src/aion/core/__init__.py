"""Pure functions and value types every layer shares: kronos time (``time``), time-UUIDs
(``ids``), events and their validation (``events``), JSON Schema inference (``schema``),
bounded JSON bodies (``jsonbody``) and shard hashing (``sharding``). ``streamlog`` is the old
import path of the StreamLog contract, now :mod:`aion.streams.protocol`, which it re-exports.

The seam: the bottom layer. No I/O, no drivers; it imports only :mod:`aion.errors` (and its
one re-export), and everything else may import it.
"""
