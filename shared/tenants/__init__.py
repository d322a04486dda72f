"""Tenants: the unit of isolation. Every tenant-owned row is partitioned by tenant id."""
