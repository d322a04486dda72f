"""Domain events: the envelope, the catalog of types, the outbox and the one publisher."""
