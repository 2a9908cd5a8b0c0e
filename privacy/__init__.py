"""Personal data protection: encryption of Temporal payloads, per-lead data keys, keyed hashes."""
