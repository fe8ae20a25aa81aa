"""Credentials for a remote repository: taken from the URL or the environment, handed to git through
its environment only, and scrubbed from every message.

HTTPS: `https://user:token@host/repo.git`, or `ORCHRECON_GIT_USERNAME` and `ORCHRECON_GIT_PASSWORD`.
SSH: a mounted key named by `ORCHRECON_GIT_SSH_KEY` (with `ORCHRECON_GIT_KNOWN_HOSTS` to pin the host;
without it a new host is accepted once, as `ssh -o StrictHostKeyChecking=accept-new` does), or the
user's own ssh setup. The secret never reaches git's command line, its config or the state directory:
a credential helper reads it from an environment variable of the git process.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")

# Answers git's `get` with the pair from this process's environment; `erase`/`store` do nothing.
_HELPER = (
    '!f() { test "$1" = get || return 0; '
    'echo "username=${ORCHRECON_GIT_USERNAME:-git}"; echo "password=$ORCHRECON_GIT_PASSWORD"; }; f'
)


@dataclass(frozen=True)
class Credentials:
    url: str  # without user information: safe to store and to show
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_key: str | None = None
    known_hosts: str | None = None

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str]) -> Credentials:
        parts = urlsplit(url)
        username = environ.get("ORCHRECON_GIT_USERNAME") or None
        password = environ.get("ORCHRECON_GIT_PASSWORD") or None
        if parts.scheme in ("http", "https") and "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            user, colon, secret = userinfo.partition(":")
            username = unquote(user) or username
            password = unquote(secret) if colon else password
            url = urlunsplit(parts._replace(netloc=host))
        return cls(
            url=url,
            username=username,
            password=password,
            ssh_key=environ.get("ORCHRECON_GIT_SSH_KEY") or None,
            known_hosts=environ.get("ORCHRECON_GIT_KNOWN_HOSTS") or None,
        )

    def options(self) -> list[str]:
        """git `-c` settings: our helper alone when we hold a password (a host's stored helpers are
        reset, so they neither answer nor store it)."""
        return ["credential.helper=", f"credential.helper={_HELPER}"] if self.password else []

    def environment(self) -> dict[str, str]:
        """Variables for every git process: never prompt; the secret for the helper; the ssh key."""
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
        if self.password:
            env["ORCHRECON_GIT_PASSWORD"] = self.password
            env["ORCHRECON_GIT_USERNAME"] = self.username or "git"
        if self.ssh_key:
            ssh = ["ssh", "-i", self.ssh_key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
            if self.known_hosts:
                ssh += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
            else:
                ssh += ["-o", "StrictHostKeyChecking=accept-new"]
            env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        return env

    def redact(self, text: str) -> str:
        """`text` with any user information of a URL and the secret itself replaced by `***`."""
        text = _USERINFO.sub("***@", text)
        return text.replace(self.password, "***") if self.password else text
