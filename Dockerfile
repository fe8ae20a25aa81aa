# orchrecon reconciler: follows a git repository and runs what is due.
#   docker build -t orchrecon .
#   docker run -d -v orchrecon-state:/state -e ORCHRECON_GIT_PASSWORD orchrecon \
#     reconcile --git https://git.example.com/data/pipelines.git --branch main --log-format json
# The README's "Container" section has the details (credentials, SSH keys, health).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY src ./src
COPY schema ./schema
# The locked, hash-checked dependencies, then orchrecon itself without resolving again.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --require-hashes -r requirements/main.txt \
    && pip wheel --no-cache-dir --wheel-dir /wheels --no-deps .

FROM python:3.11-slim-bookworm
# git fetches the repository (openssh-client for ssh:// remotes), tini reaps the task processes'
# orphans as PID 1, tzdata backs the host's zone (schedules use the tzdata wheel either way).
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client tini tzdata ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/orchrecon orchrecon \
    && mkdir /state /repo \
    && chown orchrecon:orchrecon /state \
    && git config --system --add safe.directory '*'
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --no-deps /wheels/*.whl && rm -rf /wheels
ENV ORCHRECON_STATE_DIR=/state \
    PYTHONUNBUFFERED=1
# The ledger, status files, reports, logs, tokens and the repository's mirror: keep it across restarts.
VOLUME ["/state"]
# The HTTP API, when the command says `reconcile --listen 0.0.0.0:8080`.
EXPOSE 8080
USER 10001:10001
# A local checkout may be mounted here instead of --git (git trusts it whoever owns it, above).
WORKDIR /repo
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["orchrecon", "health"]
ENTRYPOINT ["/usr/bin/tini", "--", "orchrecon"]
CMD ["reconcile", "--log-format", "json"]
