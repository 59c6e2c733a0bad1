"""The events of the saga: their envelope and the topics they travel on."""
