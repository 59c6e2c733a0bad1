"""Who may call the API: bearer JWTs, roles, and the local development conveniences around them."""
