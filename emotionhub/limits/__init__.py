"""Per API key limits: requests per minute (cache) and media items per UTC day (database)."""
