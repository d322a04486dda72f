"""Market data.

For bots, shared by every bot on a market: closed candles per (exchange, symbol, timeframe).
`markets` names a market and its bar clock (no numpy, no I/O: the bots API imports it);
`store` keeps the last bars of each market in the Candles table and fetches what is missing.

For backtests, what a tenant uploads: the CSV format and its checks (`csv_format`), and the
dataset use cases (`service`). Rows live in the Backtests table, bars in the data bucket.
"""
