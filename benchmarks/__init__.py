"""Performance figures for CryptoOrchestrator: cold start, warm per-call cost, DynamoDB requests,
and for trading: cold start with a ccxt exchange class (trade_cold_start), the paper pipeline on
the local cloud (paper_pipeline), and AWS requests per order lifecycle (order_lifecycle_requests);
webhook signing and verifying cost per delivery (webhook_signing).

Run from the repository root, e.g. `.venv/bin/python -m benchmarks.cold_start`. Benchmarks print
numbers and targets side by side; they never fail on a missed target.
"""
