"""The Stripe webhook: verified, stored once by event id, processed by the worker whatever the order."""
