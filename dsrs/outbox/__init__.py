"""The transactional outbox: events are written with the effects that cause them, then relayed to Kafka."""
