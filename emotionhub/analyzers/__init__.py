"""The analyzer plugin contract, the registry that discovers plugins, and the runner.

Plugins import only :mod:`emotionhub.analyzers.contract`; they never touch the ORM or
Celery. The core hands them decoded inputs and stores what they return.
"""
