"""Sellers' stores: currency, Stripe Connect account, commission."""
