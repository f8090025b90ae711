"""Certification: assessments and certificates (standards, verification, revocation later)."""
