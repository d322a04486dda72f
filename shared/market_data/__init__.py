"""Market data a tenant uploads for backtests: the CSV format and its checks (`csv_format`), and
the dataset use cases (`service`). Rows live in the Backtests table, bars in the data bucket."""
