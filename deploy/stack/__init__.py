"""The stack: launcher, embedded broker, databases; broker tools (topics, kcat, DLQ, ACLs)."""
