"""Client configuration: option > environment > file, per setting; the token stays secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.config import ConfigError, load_client_config

TOKEN_FILE = "lcd_from_file"
TOKEN_ENV = "lcd_from_env"
TOKEN_OPT = "lcd_from_option"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_each_setting_resolves_on_its_own(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "home/.config/locard/client.toml",
        f'server = "https://file.example"\ntoken = "{TOKEN_FILE}"\nsign_key = "keys/me.pem"\n',
    )
    env = {"HOME": str(tmp_path / "home")}
    c = load_client_config(env=env)
    assert (c.server, c.token) == ("https://file.example", TOKEN_FILE)
    assert c.sign_key == cfg.parent / "keys/me.pem"  # relative to the file naming it

    env |= {"LOCARD_TOKEN": TOKEN_ENV}
    c = load_client_config(env=env)
    assert (c.server, c.token) == ("https://file.example", TOKEN_ENV)
    assert c.sources == {"server": str(cfg), "token": "LOCARD_TOKEN", "sign_key": str(cfg)}

    env |= {"LOCARD_SERVER": "http://env.example/", "LOCARD_SIGN_KEY": "/k/env.pem"}
    c = load_client_config(env=env, server="https://opt.example", token=TOKEN_OPT)
    assert (c.server, c.token, c.sign_key) == ("https://opt.example", TOKEN_OPT, Path("/k/env.pem"))
    c = load_client_config(env=env)
    assert c.server == "http://env.example"  # trailing slash dropped


def test_xdg_and_explicit_config_paths(tmp_path: Path) -> None:
    write(tmp_path / "xdg/locard/client.toml", f'server = "http://x"\ntoken = "{TOKEN_FILE}"\n')
    env = {"HOME": str(tmp_path / "nohome"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert load_client_config(env=env).server == "http://x"
    other = write(tmp_path / "o.toml", f'server = "http://o"\ntoken = "{TOKEN_FILE}"\n')
    assert load_client_config(env=env | {"LOCARD_CLIENT_CONFIG": str(other)}).server == "http://o"
    with pytest.raises(ConfigError, match="does not exist"):
        load_client_config(env=env | {"LOCARD_CLIENT_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('server = "http://x"\ntokne = "lcd_x"\n', "unknown key"),
        ("server = \n", "not valid TOML"),
        ('server = "http://x"\ntoken = 5\n', "must be a string"),
        ('server = "ftp://x"\ntoken = "lcd_x"\n', "http:// or https://"),
        ('server = "http://x"\ntoken = "lcd x"\n', "not a valid API token"),
        ('server = "http://x"\n', "no API token"),
        ('token = "lcd_x"\n', "no server"),
    ],
)
def test_unusable_configs_say_why(tmp_path: Path, text: str, message: str) -> None:
    cfg = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        load_client_config(env={"LOCARD_CLIENT_CONFIG": str(cfg)})
    assert "lcd_x" not in str(info.value)


def test_token_is_never_in_repr_and_loose_files_warn(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", f'server = "http://x"\ntoken = "{TOKEN_FILE}"\n')
    c = load_client_config(env={"LOCARD_CLIENT_CONFIG": str(cfg)})
    assert TOKEN_FILE not in repr(c) and not c.warnings
    cfg.chmod(0o644)
    c = load_client_config(env={"LOCARD_CLIENT_CONFIG": str(cfg)})
    assert any("chmod 600" in w for w in c.warnings)
    assert all(TOKEN_FILE not in w for w in c.warnings)
