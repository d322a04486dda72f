"""`python -m tools.seal_webhook_secrets`: the one-off migration that seals (KMS-encrypts) every
webhook signing secret still stored in plaintext by rows written before secrets were sealed.

Safe to run while the platform runs and to run again: each row is rewritten only if its plaintext
is unchanged, and rows already sealed are not touched. Until it runs, such rows keep working
(read-both) and are sealed at their next rotation. Needs the stack's settings in the environment
(WEBHOOK_SUBSCRIPTIONS_TABLE, WEBHOOK_SECRETS_KEY_ARN) and kms:GenerateDataKey on the key.
"""

from __future__ import annotations


def main() -> None:
    from shared.webhooks.subscriptions import seal_legacy_secrets

    print(f"sealed {seal_legacy_secrets()} subscription(s)")


if __name__ == "__main__":
    main()
