"""Benchmarks: `make bench` (in-process figures) and `make bench-http` (gunicorn under wrk). See docs/performance.md."""
