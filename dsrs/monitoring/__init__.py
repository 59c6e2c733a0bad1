"""What operators see: logs without personal data (and, as they grow, metrics and traces)."""
