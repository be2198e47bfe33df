"""Namespace and stream-prefix routing: which backends take a stream's writes and serve its
reads. Pure; the longest matching prefix wins, exact namespaces before ``*``."""

from __future__ import annotations

from functools import lru_cache

from aion.server.config import Route

__all__ = ["StreamRouter"]


class StreamRouter:
    """Resolves (namespace, stream) to its route, memoised."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self._routes = routes
        self.resolve = lru_cache(maxsize=2000)(self._resolve)

    def _resolve(self, namespace: str, stream: str) -> Route:
        best: Route | None = None
        for route in self._routes:
            if route.namespace not in (namespace, "*") or not stream.startswith(route.prefix):
                continue
            if best is None or (len(route.prefix), route.namespace != "*") > (
                len(best.prefix),
                best.namespace != "*",
            ):
                best = route
        assert best is not None, "the config guarantees a default route"
        return best

    def read_backends(self, namespace: str) -> set[str]:
        """Every backend that serves reads for some stream of ``namespace``."""
        return {r.read_backend for r in self._routes if r.namespace in (namespace, "*")}
