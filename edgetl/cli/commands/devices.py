"""``edgetl devices list|show``: the device profiles."""
from __future__ import annotations

import json

import click


@click.group()
def devices() -> None:
    """List and show device profiles (built-in, or your own .yaml)."""


@devices.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """The built-in profiles."""
    from ...devices import builtin_profiles, load_profile

    profs = [load_profile(n) for n in builtin_profiles()]
    if as_json:
        click.echo(json.dumps([{"name": p.name, "runtime": p.runtime, "delegate": p.delegate,
                                "threads": list(p.threads), "access": p.access.kind, "description": p.description}
                               for p in profs], indent=2))
        return
    from rich.table import Table

    from ..console import console, esc, fit

    con = console(180)
    wide = con.width >= 150  # the descriptions wrap into a column of their own only where there is room
    t = Table(title="device profiles" + ("" if wide else " (edgetl devices show NAME: its description)"))
    for c in ("name", "runtime", "delegate / providers", "threads", "full int8", "access") + (("description",) if wide else ()):
        t.add_column(c)
    for p in profs:
        providers = ", ".join(x.replace("ExecutionProvider", "") for x in p.providers)
        t.add_row(esc(p.name), p.runtime, esc(p.delegate or providers or "-"), ", ".join(map(str, p.threads)),
                  "yes" if p.needs_full_int8 else "", p.access.kind, *((esc(p.description),) if wide else ()))
    fit(t, con.width, wrap=("description", "delegate / providers"), drop=("full int8",))
    con.print(t)


@devices.command("show")
@click.argument("name")
def show(name: str) -> None:
    """One profile, validated (a name or a path to a .yaml)."""
    from ...devices import load_profile

    p = load_profile(name)
    click.echo(json.dumps(p.to_dict(), indent=2, default=str))
