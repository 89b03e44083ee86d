"""The shared API base every app's API is built on; it holds no resources of its own.

``errors`` (the one error shape and the exception handler that maps
:class:`emotionhub.core.errors.DomainError` to it), ``viewsets`` (tenant scoping + audit),
``auditing`` (one audit event per request), ``pagination``, ``filters`` (base filters) and
``openapi_errors`` (error answers in the schema). The core resources (submissions, media,
jobs, results, analyzers) live in ``emotionhub.api``; each feature app keeps its own
``api/`` package.
"""
