# cellflow's conversation server as a container (docs/DEPLOY.md).
#
#   docker build -t cellflow .
#   docker run -p 8080:8080 -e CELLFLOW_API_KEYS=change-me \
#     -v "$PWD/flows/pizza:/bot:ro" -v cellflow-data:/var/lib/cellflow cellflow
#
# The bot is mounted at /bot (a directory, flow file or compiled artifact);
# conversations are kept in the SQLite file under the /var/lib/cellflow
# volume. Other settings come from /etc/cellflow/cellflow.toml if mounted,
# or from CELLFLOW_* environment variables.

# --- build: the release binary, with the registry and target cached -------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin cellflow \
    && install -m 0755 target/release/cellflow /usr/local/bin/cellflow

# --- run: a slim image, an unprivileged user, a health check ---------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/cellflow --create-home \
       --shell /usr/sbin/nologin cellflow
COPY --from=build /usr/local/bin/cellflow /usr/local/bin/cellflow
USER cellflow
WORKDIR /var/lib/cellflow
VOLUME /var/lib/cellflow
EXPOSE 8080
# /healthz answers 200 while the bot is loaded and the store answers, 503
# while draining after SIGTERM or when the store is down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz > /dev/null || exit 1
# SIGTERM drains: no new connections, running turns finish.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cellflow", "serve"]
CMD ["/bot", "--listen", "0.0.0.0:8080", "--store", "sqlite", "--sqlite", "/var/lib/cellflow/sessions.db"]
