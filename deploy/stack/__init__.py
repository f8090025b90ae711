"""The stack: launcher, embedded broker, databases; broker tools (kcat, dead letters, ACLs)."""
