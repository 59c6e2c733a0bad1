"""The HTTP API, a Starlette app served from inside the Faust worker."""
