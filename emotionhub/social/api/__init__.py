"""REST API of social ingestion: sources, their runs, posts, and the push endpoint."""
