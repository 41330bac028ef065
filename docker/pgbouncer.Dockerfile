# PgBouncer from Debian's package (1.18 on bookworm), in transaction mode, for compose.yaml.
FROM debian:bookworm-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/*
# Built with docker/ as its context (compose.yaml).
COPY pgbouncer.ini pgbouncer-users.txt /etc/pgbouncer/
USER postgres
EXPOSE 6432
CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
