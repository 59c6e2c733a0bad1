"""Brings up the local servers DSRS runs on (Kafka, PostgreSQL, a MongoDB-protocol store) without Docker."""
