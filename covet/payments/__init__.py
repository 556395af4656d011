"""Payments: the Stripe gateway, Checkout Sessions, Connect transfers, refunds."""
