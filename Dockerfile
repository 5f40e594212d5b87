# syntax=docker/dockerfile:1
#
# The chat server as one self-contained binary in a distroless image.
#
#   docker build -t chat-server:local .
#   docker run --rm -p 6000:6000 -p 8080:8080 -p 8000:8000 -e REDIS_HOST=redis.example chat-server:local
#
# The image is meant for Redis mode (REDIS_HOST or REDIS_URL). Without Redis the
# embedded store writes to /app/data, which belongs to the non-root user; mount a
# volume there to keep the history: `-v chat-data:/app/data`.

# Same Deno version as CI (.ci/run), so the image runs the code the tests ran.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock server.ts ./
COPY lib/ ./lib/
# --frozen: fail rather than resolve a dependency differently from deno.lock.
RUN deno install --frozen --entrypoint server.ts
# The browser page (lib/web) is bundled into dist/web, which the binary embeds.
RUN deno task bundle
# The permission flags are the `server` task's, word for word
# (tests/deploy/deploy_test.ts checks this), so the binary may do exactly what
# `deno task server` may do. Permissions are baked in when compiling: the
# binary may use the embedded store directory CHAT_DATA names now (`data`,
# relative to where it runs: /app/data), not whatever CHAT_DATA says later.
ARG CHAT_DATA=data
# The TLS certificate and key, and Redis's CA, are read from where Kubernetes
# and Compose mount them; TLS stays off unless TLS_CERT and TLS_KEY are set
# at run time.
ARG TLS_CERT=/etc/chat/tls/tls.crt
ARG TLS_KEY=/etc/chat/tls/tls.key
ARG REDIS_CA=/etc/chat/redis-ca/ca.crt
RUN deno compile --frozen \
    --v8-flags=--max-semi-space-size=8,--expose-gc \
    --allow-net \
    --allow-env=PORT,TLS_PORT,TLS_CERT,TLS_KEY,HOST,HTTP_PORT,WEB_PORT,REDIS_URL,REDIS_HOST,REDIS_PORT,REDIS_USER,REDIS_PASSWORD,REDIS_SENTINELS,REDIS_SENTINEL_MASTER,REDIS_CLUSTER_NODES,REDIS_MIN_REPLICAS_ACK,REDIS_CA,CHAT_DATA,HISTORY_KEY,HISTORY_LIMIT,HISTORY_REPLAY,MAX_LINE_BYTES,HANDSHAKE_TIMEOUT,QUEUE_LIMIT,QUEUE_SOFT_LIMIT,QUEUE_SOFT_SECONDS,MAX_CONNECTIONS,MAX_CONNECTIONS_PER_IP,TRUSTED_NETWORKS,ALLOWED_ORIGINS,RATE_LIMIT,RATE_BURST,NOTICE_ROOM_LIMIT,PRESENCE_TTL,SHUTDOWN_GRACE,LOG_LEVEL,LOG_FORMAT \
    --allow-read="$CHAT_DATA,$TLS_CERT,$TLS_KEY,$REDIS_CA" \
    --allow-write="$CHAT_DATA" \
    --include dist/web \
    --output /out/chat-server server.ts \
 && mkdir /out/data

# The load generator (tests/bench/load.ts), for the Kubernetes Job in
# k8s/loadtest-job.yaml: `docker build --target bench -t chat-bench:local .`
# Against a running server it needs nothing but the network; its --spawn
# options (and the test helpers they import) are for local runs only.
FROM build AS bench-build
COPY tests/bench/ ./tests/bench/
COPY tests/helpers/ ./tests/helpers/
RUN deno compile --frozen --allow-net --output /out/chat-bench tests/bench/load.ts

# A `deno compile` binary links against glibc and libgcc: the "cc" flavour has
# them (and CA certificates for rediss://), and no shell or package manager.
# Distroless has no version tags; pin a digest (`...:nonroot@sha256:...`) where
# builds must be reproducible.
FROM gcr.io/distroless/cc-debian12:nonroot AS bench
COPY --from=bench-build /out/chat-bench /app/chat-bench
USER 65532:65532
ENTRYPOINT ["/app/chat-bench"]

# The server image: the last stage, so a plain `docker build` produces it.
FROM gcr.io/distroless/cc-debian12:nonroot AS server
WORKDIR /app
COPY --from=build /out/chat-server /app/chat-server
COPY --from=build --chown=65532:65532 /out/data /app/data
# Numeric, so Kubernetes can verify runAsNonRoot (it cannot resolve a user name).
USER 65532:65532
EXPOSE 6000 6697 8080 8000
# The binary probes its own /healthz: the image has no shell and no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/app/chat-server", "healthcheck"]
ENTRYPOINT ["/app/chat-server"]
