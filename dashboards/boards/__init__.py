"""One module per dashboard; each exposes ``build(reports, context) -> Dashboard``."""
