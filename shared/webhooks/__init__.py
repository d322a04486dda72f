"""Outbound webhooks: where we may deliver (ssrf) and how one delivery is made (delivery_http)."""
