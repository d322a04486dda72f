"""Exchanges: one interface, a ccxt adapter (the only code that imports ccxt) and a paper exchange."""
