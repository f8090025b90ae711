"""Certification: standards, assessment sessions and results, certificates issued as signed
credentials, public verification, revocation, expiry and renewal."""
