"""The bottom layer: what every app needs and nothing app-specific.

Modules here import Django at most (settings), never an app of ours, DRF or Celery: domain
errors (:mod:`.errors`), the one safe outbound HTTP client (:mod:`.http`), public-address
rules (:mod:`.addresses`), depth-limited JSON parsing (:mod:`.jsonlimits`) and the form
field that applies it to admin forms (:mod:`.jsonforms`).
"""
