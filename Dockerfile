# sqlflume agent image: builds the binary on Debian 12 and runs it with a mounted config.
#   docker build -t sqlflume . && docker run -v $PWD/conf:/conf sqlflume agent -n a1 -f /conf/mysql-kafka.conf
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config librdkafka-dev default-libmysqlclient-dev libpq-dev \
        libmimalloc-dev libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY src src
COPY connectors connectors
COPY tests/support tests/support
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j"$(nproc)" --target sqlflume

FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librdkafka1 libmariadb3 libpq5 libmimalloc2.0 libmicrohttpd12 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/sqlflume /usr/local/bin/sqlflume
COPY conf /conf
USER nobody
ENTRYPOINT ["/usr/local/bin/sqlflume"]
CMD ["agent", "-n", "a1", "-f", "/conf/mysql-kafka.conf"]
