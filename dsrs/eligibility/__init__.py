"""Eligibility: every household is assessed against every active program, with the reasons stored."""
