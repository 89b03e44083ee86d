"""Submitted media: the stored blob, what it is, and the checks it passed on the way in."""
