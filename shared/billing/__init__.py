"""Billing: plans and their limits, Stripe subscriptions, entitlements and usage metering.

The only package that imports `stripe`. `plans` is the one place that says what each plan allows;
every place that enforces a limit reads it from there.
"""
