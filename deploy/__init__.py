"""How operators run SkillBridge, one package per role: cli, stack, clients, scenarios, bench."""
