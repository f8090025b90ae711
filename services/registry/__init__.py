"""Registry: people, households, places, organisations, trainers and consent; bulk imports,
an audit log, and the personal data a consent lets funding share with lenders."""
