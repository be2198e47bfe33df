"""Aion benchmarks: one bench_*.py module per area, each exposing main() -> list[dict]."""
