# loaddensity in a container: build with the toolchain, run on a small image.
#
#   docker build -t loaddensity .
#   docker run --rm loaddensity --version
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" loaddensity validate actions/quickstart.json
#
# The build stage uses the minimum supported Rust (Cargo.toml's rust-version),
# so building the image also checks that claim.
ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# Cargo.lock as committed; the release profile (LTO) as CI builds it.
RUN cargo install --path . --locked --root /out

FROM debian:bookworm-slim
# CA certificates for https:// targets (verify: true reads the system's store).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin loaddensity \
    && mkdir -p /work \
    && chown loaddensity:loaddensity /work
COPY --from=build /out/bin/loaddensity /usr/local/bin/loaddensity
USER loaddensity
WORKDIR /work
ENTRYPOINT ["loaddensity"]
CMD ["--help"]
