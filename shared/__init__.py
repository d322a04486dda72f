"""CryptoOrchestrator's shared package: domain logic, data access and plumbing every function imports."""
