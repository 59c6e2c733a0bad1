"""The registry: households in, through the intake topic or the REST API, with one outcome."""
