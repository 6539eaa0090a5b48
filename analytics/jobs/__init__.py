"""Report jobs: each builds one Polars LazyFrame."""
