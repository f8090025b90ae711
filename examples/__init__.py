"""Programs outside SkillBridge that use its public interfaces (not part of the services)."""
