"""Authentication: users and passwords, JWTs, API keys, and the principal every request carries."""
