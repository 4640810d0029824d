"""Storage: engine, tables, idempotent ingest, export."""
