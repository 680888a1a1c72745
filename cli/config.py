"""Client settings for `locard upload`: command line, then environment, then a config file.

Each setting is resolved on its own, so a config file can hold the server while the token
comes from the environment of a CI job. The file is TOML:

    server = "https://vault.example.org"
    token = "lcd_..."
    sign_key = "~/.config/locard/collector-ed25519.pem"

It is `$LOCARD_CLIENT_CONFIG` if set, else `$XDG_CONFIG_HOME/locard/client.toml`
(`~/.config/locard/client.toml`). The token is a secret: it is never printed, and this
module's repr hides it.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_SERVER = "LOCARD_SERVER"
ENV_TOKEN = "LOCARD_TOKEN"
ENV_SIGN_KEY = "LOCARD_SIGN_KEY"
ENV_CONFIG = "LOCARD_CLIENT_CONFIG"
KEYS = ("server", "token", "sign_key")


class ConfigError(Exception):
    """The client configuration is unusable; the message says what to fix."""


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str = field(repr=False)
    sign_key: Path | None
    #: where each setting came from ("--server", "LOCARD_TOKEN", a file path), for messages
    sources: Mapping[str, str]
    #: things worth telling the user that are not errors (e.g. a readable token file)
    warnings: tuple[str, ...] = ()


def default_config_path(env: Mapping[str, str]) -> Path:
    explicit = env.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "locard" / "client.toml"


def read_config_file(path: Path, *, required: bool) -> dict[str, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(doc) - set(KEYS))
    if unknown:
        # A typo ("tokne") silently ignored would send requests unauthenticated.
        raise ConfigError(f"config file {path}: unknown key(s) {unknown}; known: {list(KEYS)}")
    out: dict[str, str] = {}
    for key, value in doc.items():
        if not isinstance(value, str):
            raise ConfigError(f"config file {path}: '{key}' must be a string")
        out[key] = value
    return out


def _file_warning(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} holds a token but is readable by others; run: chmod 600 {path}"
    return None


def _check_server(url: str, source: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) < len("http://x"):
        raise ConfigError(f"server {url!r} (from {source}) must be an http:// or https:// URL")
    return url


def _check_token(token: str, source: str) -> str:
    token = token.strip()
    # Control characters or spaces would break (or smuggle) the Authorization header.
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ConfigError(f"the token from {source} is not a valid API token")
    return token


def load_client_config(
    *,
    server: str | None = None,
    token: str | None = None,
    sign_key: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Resolve each setting: the option given, else its environment variable, else the file."""
    env = os.environ if env is None else env
    path = default_config_path(env)
    from_file = read_config_file(path, required=bool(env.get(ENV_CONFIG)))
    chosen: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, option, variable, flag in (
        ("server", server, ENV_SERVER, "--server"),
        ("token", token, ENV_TOKEN, "--token"),
        ("sign_key", str(sign_key) if sign_key else None, ENV_SIGN_KEY, "--sign-key"),
    ):
        if option:
            chosen[key], sources[key] = option, flag
        elif env.get(variable):
            chosen[key], sources[key] = env[variable], variable
        elif from_file.get(key):
            chosen[key], sources[key] = from_file[key], str(path)
    if "server" not in chosen:
        raise ConfigError(
            f'no server: pass --server, set {ENV_SERVER}, or put server = "..." in {path}'
        )
    if "token" not in chosen:
        raise ConfigError(
            f'no API token: pass --token, set {ENV_TOKEN}, or put token = "..." in {path}'
        )
    warnings: list[str] = []
    if sources["token"] == str(path) and (w := _file_warning(path)):
        warnings.append(w)
    key_path: Path | None = None
    if "sign_key" in chosen:
        key_path = Path(chosen["sign_key"]).expanduser()
        if sources["sign_key"] == str(path) and not key_path.is_absolute():
            key_path = path.parent / key_path  # relative to the file that names it
    return ClientConfig(
        server=_check_server(chosen["server"], sources["server"]),
        token=_check_token(chosen["token"], sources["token"]),
        sign_key=key_path,
        sources=sources,
        warnings=tuple(warnings),
    )
