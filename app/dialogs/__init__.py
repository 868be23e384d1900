"""Dialogs of the workstation."""
