"""The dead-letter reprocess agent: it keeps each letter's state and retries letters once what caused them
may have changed (dsrs.dlq.causes), recovering those that then pass and parking the rest."""
