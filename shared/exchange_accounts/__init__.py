"""Exchange accounts: verified, encrypted exchange credentials, and the built-in paper account."""
