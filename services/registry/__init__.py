"""Registry: the source of truth for who takes part, and where.

People (with likely-duplicate flags, merges, subject access and erasure), their consents
and the personal data shared with lenders under them, households and their income, places
(shipped provinces and estates, registered villages and learning centres), organisations,
community trainers, bulk CSV imports, and the audit log. Every change is told to the other
services as an event staged in the same transaction (outbox): broadcast facts without
personal data, and consented personal data only to funding, on its private topic.
"""
