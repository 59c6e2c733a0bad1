"""Payments: one per approved household, program and cycle."""
