"""Verify what CryptoOrchestrator sends you: signed webhooks (`consumer_kit.webhooks`) and SNS
pushes (`consumer_kit.sns`).

Standalone on purpose: it imports nothing of the platform, so a consumer copies this folder (or
installs it) with only `standardwebhooks` and `cryptography`. Submodules are not imported here,
so a webhook-only consumer never needs `cryptography`.
"""
