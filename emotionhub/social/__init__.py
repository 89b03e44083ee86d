"""Social-media sources and the posts ingested from them."""
