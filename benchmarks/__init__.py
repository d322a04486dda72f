"""Performance figures for CryptoOrchestrator: cold start, warm per-call cost, DynamoDB requests.

Run from the repository root, e.g. `.venv/bin/python -m benchmarks.cold_start`. Benchmarks print
numbers and targets side by side; they never fail on a missed target.
"""
