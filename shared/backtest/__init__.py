"""Backtests: candle arrays in, trades, an equity curve and metrics out.

Modules: `candles` (the OHLCV arrays and their checks), `config` (what the user chooses),
`engine` (the fill rules and the simulation), `results` (trades and the run's output),
`metrics` (figures from the equity curve and the trades), `synthetic` (seeded offline candles).
Nothing is imported here, so importing one of them does not pull in the others.
"""
