"""CLI commands of the service itself (serve, token, demo)."""
