"""Registry: people, consent (and later households, places, organisations, trainers)."""
