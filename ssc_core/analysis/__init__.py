"""Agreement statistics, study reports, spreadsheet export and import."""
