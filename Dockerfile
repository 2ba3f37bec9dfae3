# nobackoff: a static binary on a distroless, non-root base.
# Build: make image (or docker build --build-arg VERSION=... .)
ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/nobackoff ./cmd/nobackoff

FROM ${BASE_IMAGE}
COPY --from=build /out/nobackoff /nobackoff
USER 65532:65532
ENTRYPOINT ["/nobackoff"]
CMD ["serve"]
