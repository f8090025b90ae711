"""Funding: lenders, products and eligibility rules, referrals (partner API later)."""
