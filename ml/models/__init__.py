"""Network definitions and checkpoint helpers."""
