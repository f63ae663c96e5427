# syntax=docker/dockerfile:1
#
# apptbridge: one static binary on distroless, running as nonroot (65532).
# Needs BuildKit (the default builder since Docker 23; RUN --mount caches).
#
#   docker build -t apptbridge --build-arg VERSION=$(git describe --tags --always --dirty) \
#       --build-arg COMMIT=$(git rev-parse --short HEAD) .
#   docker run -d --name apptbridge -p 2575:2575 -p 8080:8080 \
#       -v apptbridge-data:/data --env-file apptbridge.env apptbridge
#
# Stop with `docker stop -t 45` (or stop_grace_period: 45s): `serve` shuts down
# gracefully on SIGTERM within 30 s (Docker's default is 10 s).
#
# No HEALTHCHECK: the image has no shell or curl, and apptbridge has no
# probe subcommand (`apptbridge check` validates configuration only). Let the
# orchestrator probe HTTP instead: liveness GET /healthz, readiness GET
# /readyz on HTTP_ADDR (8080); Prometheus scrapes GET /metrics there.

# The Go version must satisfy go.mod's `go` line (scripts/check-ops.sh checks
# that the minor versions match).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
# Cross-compiles for the target platform (docker buildx build --platform ...).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/apptbridge ./cmd/apptbridge \
    && mkdir -p /out/data

# distroless/static: CA certificates (Twilio, S3, EHR webhooks over HTTPS),
# tzdata (the binary embeds time/tzdata as well), /etc/passwd with nonroot.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/apptbridge /usr/local/bin/apptbridge
# The volume's mount point, owned by nonroot so a fresh named volume is
# writable (Docker copies the ownership into it).
COPY --from=build --chown=65532:65532 /out/data /data
ENV DATA_DIR=/data \
    MLLP_ADDR=:2575 \
    HTTP_ADDR=:8080
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
# 2575: MLLP (HL7 in); 8080: HTTP (/v1 API, Twilio webhooks, /metrics, /healthz, /readyz).
EXPOSE 2575 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/apptbridge"]
CMD ["serve"]
