"""Positions and realized PnL, per bot (or the manual desk), account and symbol."""
