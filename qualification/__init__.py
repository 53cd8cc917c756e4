"""The pure qualification core: no Prefect, no database, no network."""
