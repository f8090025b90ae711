"""A lender's own small system: follows its SkillBridge topic and answers through the
partner API (see README.md beside this file)."""
