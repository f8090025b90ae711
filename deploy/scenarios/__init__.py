"""The IEAT and Suphan Buri programmes, their expectations, seeding, demo, funnel reader."""
