# distillery in a container: `docker build -t distillery .`, then
#   docker run -p 8080:8080 -v $PWD/.distillery:/registry distillery serve --registry /registry
# Stage 1 builds the release binary; stage 2 is a slim Debian with that binary only, run as
# a non-root user. The binary links only glibc (and libm/libgcc), so any glibc image works.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p distillery \
    && strip target/release/distillery \
    && cp target/release/distillery /distillery

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /home/distillery --create-home distillery \
    && mkdir -p /registry /logs \
    && chown distillery /registry /logs
COPY --from=build /distillery /usr/local/bin/distillery
USER 10001
WORKDIR /home/distillery
ENV DISTILLERY_REGISTRY=/registry
EXPOSE 8080
ENTRYPOINT ["distillery"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--log-dir", "/logs"]
