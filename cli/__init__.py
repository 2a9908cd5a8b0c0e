"""`cadence`, the command line: talks to the API (CADENCE_URL, CADENCE_API_KEY), local or remote."""
