"""`dsrs token issue`: a development token signed with the local HS256 secret."""

from __future__ import annotations

import click

from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.cli.errors import one_line_errors
from dsrs.settings import load_settings

TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """'90s', '30m', '8h', '2d', or plain seconds."""
    unit = TTL_UNITS.get(text[-1:])
    number = text[:-1] if unit else text
    if not number.isdigit() or int(number) == 0:
        raise click.BadParameter("a duration such as 30m, 8h or 2d")
    return int(number) * (unit or 1)


@click.group()
def token() -> None:
    """Development tokens (DSRS_ENV=local or test; production tokens come from your identity provider)."""


@token.command()
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role]))
@click.option("--ttl", default="8h", show_default=True, help="Lifetime: 30m, 8h, 2d ...")
@click.option("--subject", default=None, help="The `sub` claim; default local-<role>")
@one_line_errors
def issue(roles: tuple[str, ...], ttl: str, subject: str | None) -> None:
    """Print a bearer token for the given role(s)."""
    click.echo(issue_token(load_settings(), [Role(role) for role in roles], parse_ttl(ttl), subject))
