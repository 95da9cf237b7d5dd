# syntax=docker/dockerfile:1
#
# cnx-storage image: `docker build -t cnx-storage .` (BuildKit, the default since Docker 23),
# or `docker compose build` with compose.yaml. Run:
#   docker run -d -p 9000:9000 -v cnx-data:/data cnx-storage
# With no CNX_ROOT_ACCESS_KEY/CNX_ROOT_SECRET_KEY the first start generates root credentials
# into /data/root-credentials.json and prints them once in the container's log.

FROM rust:1-bookworm AS build
# The rocksdb crate compiles RocksDB's C++ and generates its bindings with libclang.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target dir are cache mounts, so a rebuild after a source change compiles
# only what changed (RocksDB's C++ takes most of a cold build). A cache mount is not part of
# the image, hence the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin cnx-storage \
 && install -D -m 0755 target/release/cnx-storage /out/cnx-storage

FROM debian:bookworm-slim
ARG SOURCE_URL=https://example.com/cnx-storage
LABEL org.opencontainers.image.title="cnx-storage" \
      org.opencontainers.image.description="S3-compatible object storage gateway with a JSON management surface" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}"
# CA roots for the HTTPS the S3/GCS/Azure blob backends speak and for PostgreSQL over TLS;
# libstdc++ (RocksDB is C++) is already in the base image and is named only to keep it there.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so that a bind-mounted data dir can be chowned to it on the host
# (`chown 10001:10001 DIR`). /data must be owned by the user before VOLUME: the server makes
# its data dir 0700 on every start and cannot do so on a directory it does not own.
RUN groupadd --gid 10001 cnx \
 && useradd --uid 10001 --gid cnx --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin cnx \
 && install -d -m 0700 -o cnx -g cnx /data
COPY --from=build /out/cnx-storage /usr/local/bin/cnx-storage
# The embedded default listens on loopback only, which nothing outside the container reaches.
# Env wins over a config file's `listen` and `data_dir`: set CNX_LISTEN to move the port.
ENV CNX_DATA_DIR=/data \
    CNX_LISTEN=0.0.0.0:9000
VOLUME /data
EXPOSE 9000
# Numeric, so that orchestrators enforcing non-root (Kubernetes runAsNonRoot) can check it.
USER 10001:10001
# `health` finds the endpoint the same way `serve` does (CNX_LISTEN, CNX_CONFIG), so a
# listen address given as a `serve --listen` flag instead of in the environment is not seen
# here. With [tls] it speaks https and accepts exactly the configured certificate. The start
# period covers opening a large RocksDB index or migrating a PostgreSQL one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/cnx-storage", "health"]
ENTRYPOINT ["/usr/local/bin/cnx-storage"]
CMD ["serve"]
