"""Tables, their input/output schemas, and settings."""
