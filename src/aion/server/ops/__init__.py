"""Operations: what wraps every wire family rather than being one.

- API keys: :mod:`.auth_rules` (the pure decisions), :mod:`.auth` (the ASGI key check that
  refuses in the family's shape), :mod:`.keys` (the store contract and the hashed keys in
  ``keys.db``), :mod:`.keys_postgres` and :mod:`.keys_redis` (a cluster's keys and shared
  secrets in PostgreSQL or Redis),
  :mod:`.keys_cluster` (which store a config uses; a cluster's start rule) and
  :mod:`.keys_ring` (the keys in force);
- probes and metrics: :mod:`.health` (``/healthz``, ``/readyz``), :mod:`.metrics`
  (``/metrics``), :mod:`.openapi` (their description);
- logging: :mod:`.log_config` (the formats) and :mod:`.access_log` (one line per request);
- wire limits: :mod:`.limits` (the body cap), :mod:`.connection` (request heads and slow
  clients, in uvicorn's protocol) and :mod:`.disconnects` (clients gone mid-request).

The families import :mod:`.auth` to act on what the key check decided; nothing here imports
a family.
"""
