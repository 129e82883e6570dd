"""Signals other apps answer without datasets importing them (dependencies point one way)."""

from django.dispatch import Signal

# Sent with `dataset` just before a dataset is deleted. A receiver returns a callable (or None)
# that removes the files it keeps for that dataset; it runs once the deletion is committed.
dataset_deleting = Signal()
