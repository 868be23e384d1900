"""Reader studies: records, protocol, the SQLite study store, audit log and pseudonymisation."""
