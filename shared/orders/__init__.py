"""Orders: intent rows, the exactly-once trade path, and reconciliation with the exchange."""
