"""Who is calling: API keys (Bearer) for machines, logged-in UI sessions for people."""
