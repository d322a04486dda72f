"""Trading strategies. This package holds their parameter schemas; the strategies arrive later."""
