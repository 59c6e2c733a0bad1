"""Kafka clients beyond the saga's producer: topic administration and lag."""
