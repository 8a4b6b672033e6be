"""Reports that span a whole run (train, export and bench together)."""
