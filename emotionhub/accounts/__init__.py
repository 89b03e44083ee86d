"""Tenants, their members and API keys. Everything a client sees is scoped to a tenant."""
