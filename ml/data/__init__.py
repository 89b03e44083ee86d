"""Dataset loaders for the ML package."""
