"""Funding: lenders, products and their versioned eligibility rules, referrals decided from
registry and certification facts, and the partner API, topics and webhooks."""
