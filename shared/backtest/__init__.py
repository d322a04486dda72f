"""Backtests: candle arrays in, trades, an equity curve and metrics out.

Modules: `candles` (the OHLCV arrays and their checks), `config` (what the user chooses),
`engine` (the fill rules and the simulation), `results` (trades and the run's output),
`metrics` (figures from the equity curve and the trades), `synthetic` (seeded offline candles).
As API jobs: `requests` (what a client sends, checked without I/O), `records` (the Backtests
table), `storage` (the data bucket), `jobs` (the backtest-jobs queue), `service` (the API's use
cases) and `runner` (what the worker does with one job). `requests`, `records`, `jobs` and
`service` never import numpy, so the API function does not load it at cold start.
Nothing is imported here, so importing one of them does not pull in the others.
"""
