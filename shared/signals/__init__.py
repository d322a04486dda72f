"""Inbound trading signals (TradingView, 3Commas-style): per-bot secrets, parsing, intake, execution."""
