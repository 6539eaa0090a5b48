"""The Parquet warehouse export: files, views, compaction, erasure, optional DuckLake."""
