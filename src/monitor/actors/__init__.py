"""The actors stage (#16), after network/ and before alerts/: the registry of groups, people
and sites (``config/registry/``), the mentions of them in posts, and incidents from claims."""
