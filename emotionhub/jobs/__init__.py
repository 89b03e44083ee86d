"""Submissions, analysis jobs and their results: the state machine that workers drive."""
