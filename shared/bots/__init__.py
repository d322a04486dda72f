"""Bots: configuration, lifecycle state machine and storage."""
