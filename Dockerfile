# One image for every node of a group: a Redis and its raftinel daemon side by side.
# The config (which node this is) is mounted at /etc/raftinel/node.toml: see docker-compose.yml.
FROM node:20-bookworm-slim

RUN apt-get update \
  && apt-get install -y --no-install-recommends redis-server \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/raftinel
COPY . .
# npm ci also compiles the TypeScript (the package's prepare script), leaving bin/raftinel runnable.
RUN npm ci && npm cache clean --force \
  && chmod +x bin/raftinel docker/entrypoint.sh \
  && ln -s /opt/raftinel/bin/raftinel /usr/local/bin/raftinel \
  && mkdir -p /etc/raftinel /var/lib/raftinel \
  && chown node:node /var/lib/raftinel

USER node
VOLUME /var/lib/raftinel
# Redis (compose network only), Sentinel, Raft/gRPC (private network only), admin HTTP.
EXPOSE 6379 26379 27379 28379
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s \
  CMD ["raftinel", "status", "--admin", "127.0.0.1:28379", "--json"]
ENTRYPOINT ["/opt/raftinel/docker/entrypoint.sh"]
