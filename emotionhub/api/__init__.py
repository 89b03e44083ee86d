"""The versioned REST API (``/api/v1/``): routers, serializers, errors and the schema."""
