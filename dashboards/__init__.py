"""Dashboards rendered from report outputs."""
