"""Analytics: live KPIs by program and region, counted exactly once and mirrored to tables and rollups."""
