# The DSRS worker image for docker-compose.yml. The worker serves the API as well as running the agents.
FROM python:3.11-slim
WORKDIR /app
COPY setup.cfg pyproject.toml README.md faust_app.py alembic.ini ./
COPY dsrs ./dsrs
RUN pip install --no-cache-dir -e .
ENV DSRS_WEB_HOST=0.0.0.0 \
    DSRS_CACHE_DIR=/var/lib/dsrs
EXPOSE 6066
CMD ["sh", "-c", "dsrs db upgrade && exec dsrs worker --loglevel info"]
