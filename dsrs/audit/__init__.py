"""The audit trail: who changed what, when, with digests of the record before and after."""
