"""The pipeline's checks, one module per check family."""
