"""Trading strategies: pure, deterministic functions of candle arrays and parameters, no I/O.

`params` holds the parameter schemas (imported by API functions, so it never imports numpy);
`registry` maps each strategy type to its implementation. Indicator strategies (`trend`,
`reversion`) answer a wanted position per bar (`evaluation`); stepped ones (`dca`, `grid`) answer
the orders they want given explicit state and fills (`order_plan`). Live ticks and backtests call
the same code.
"""
