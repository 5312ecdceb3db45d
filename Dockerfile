# syntax=docker/dockerfile:1
#
# shopstream: one static binary on a distroless base, run as non-root.
#
#   docker build -t shopstream:dev --build-arg VERSION=$(git describe --tags --always --dirty) .
#   docker run --rm shopstream:dev version
#
# deploy/docker-compose.yml builds this file for the compose stack, and
# deploy/k8s runs the image it produces.

# Keep GO_VERSION equal to the go directive in go.mod (deploy/deploy_test.go
# checks it), so the build never downloads another toolchain.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# Modules first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/shopstream ./cmd/shopstream

# The distroless image has no shell, curl or wget, so container health checks
# (deploy/docker-compose.yml) need a probe of their own: this one GETs a URL
# and exits 0 only on a 2xx answer. Kubernetes probes use httpGet instead.
COPY <<'EOF' /healthcheck/main.go
// Command healthcheck GETs its one argument and exits 0 on a 2xx answer.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck URL")
		os.Exit(2)
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintln(os.Stderr, os.Args[1]+": "+resp.Status)
		os.Exit(1)
	}
}
EOF
RUN --mount=type=cache,target=/root/.cache/go-build \
    cd /healthcheck && go mod init healthcheck && go build -trimpath -ldflags "-s -w" -o /out/healthcheck . \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="shopstream" \
      org.opencontainers.image.description="shopstream commerce data plane: one binary, every role" \
      org.opencontainers.image.source="https://github.com/shopstream/shopstream" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/shopstream /usr/local/bin/shopstream
COPY --from=build /out/healthcheck /usr/local/bin/healthcheck
# data_dir of the compose and Kubernetes configs: goka tables (and, with the
# all-in-one defaults, the embedded engines). Owned by the nonroot user
# (65532) so a fresh named volume inherits a writable directory.
COPY --from=build --chown=65532:65532 /out/data /var/lib/shopstream
VOLUME ["/var/lib/shopstream"]
WORKDIR /var/lib/shopstream
USER 65532:65532
# HTTP: REST API, /metrics, /healthz, /readyz (http.addr must listen on 0.0.0.0
# inside a container, as deploy/config/compose.yaml does).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/shopstream"]
# With no arguments: every role in one process on embedded engines, HTTP on
# 0.0.0.0:8080 (docker run -p 127.0.0.1:8080:8080 shopstream:dev). Its
# embedded Kafka listens on the container's loopback only; to use real servers
# run deploy/docker-compose.yml instead.
CMD ["all-in-one", "--http.addr", "0.0.0.0:8080", "--data-dir", "/var/lib/shopstream"]
