"""The ``edgetl`` click group: lazy subcommands, logging flags and error-to-exit-code mapping."""
from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from .. import __version__
from ..errors import ConfigError, EdgetlError

SUBCOMMANDS = {
    "train": ("edgetl.cli.commands.train:train", "Train a classifier on a folder of class sub-folders."),
    "export": ("edgetl.cli.commands.export:export", "Export a trained run to TFLite and ONNX, verified."),
    "pipeline": ("edgetl.cli.commands.pipeline:pipeline", "Train, export and check from one YAML file."),
    "predict": ("edgetl.cli.commands.predict:predict", "Classify images with an exported model (runtime only)."),
    "backbones": ("edgetl.cli.commands.backbones:backbones", "List the backbones and their options."),
    "bench": ("edgetl.cli.commands.bench:bench", "Latency and accuracy of artifacts on device profiles."),
    "devices": ("edgetl.cli.commands.devices:devices", "List and show device profiles."),
    "import-weights": ("edgetl.cli.commands.import_weights:import_weights",
                       "Import EfficientNet-Lite ImageNet weights from their PyTorch checkpoint."),
    "artifacts": ("edgetl.cli.commands.runs:artifacts", "List a run's current artifacts and their stable paths."),
    "clean": ("edgetl.cli.commands.runs:clean", "Remove a run's stale stages (and, with --cache, the cache)."),
    "inspect": ("edgetl.cli.commands.inspect:inspect", "Size, compute, memory, op and Edge TPU checks, latency estimates."),
    "calibrate": ("edgetl.cli.commands.calibrate:calibrate",
                  "Fit latency estimates to a board from its own bench measurements."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module, attr = SUBCOMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The static table keeps `edgetl --help` from importing every subcommand (and TensorFlow).
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUBCOMMANDS[name][1]) for name in sorted(SUBCOMMANDS)])

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            import difflib

            close = difflib.get_close_matches(args[0], list(SUBCOMMANDS), n=1) if args else []
            if close:
                raise click.UsageError(f"No such command {args[0]!r}. Did you mean {close[0]!r}?") from exc
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgetl")
@click.option("-v", "--verbose", count=True, help="Stage logs and TensorFlow's own output (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """edgetl: from a folder of photos to a small, fast, verified classifier on an edge device."""
    level = logging.WARNING if quiet or not verbose else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("edgetl").setLevel(level)  # other libraries (ONNX Runtime's quantizer) stay at WARNING
    from ..deps import quiet_libraries

    # converters' C++ chatter on stderr, TensorFlow's retracing notices and the like need -v (runtime/quiet.py)
    os.environ["EDGETL_QUIET_NATIVE"] = "0" if verbose else os.environ.get("EDGETL_QUIET_NATIVE", "1")
    quiet_libraries()
    ctx.obj = {"verbose": verbose, "quiet": quiet}


def _literal(text: object) -> str:
    """An error message printed literally: control characters from file names shown as escapes."""
    from .console import plain

    return "\n".join(plain(line) for line in str(text).split("\n"))


class Terminated(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so every stage removes its temporary folder on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def _install_signal_handlers() -> None:
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, _on_signal)
            except (ValueError, OSError):  # not the main thread (an embedding app): leave its handlers alone
                pass


def main() -> None:
    _install_signal_handlers()
    try:
        _main()
    except Terminated as exc:
        click.echo("Terminated: finished stages are kept and temporary folders removed; rerun the same command to "
                   "resume.", err=True)
        sys.exit(128 + exc.signum)
    except Exception as exc:
        from ..pipeline import disk_full

        if not disk_full(exc):
            raise
        click.echo(f"Error: the disk is full ({_literal(str(exc).splitlines()[0][:200] if str(exc) else '')}). "
                   "Free space, or choose another --out/--cache folder; finished stages are kept and nothing "
                   "half-written was left, so rerunning the same command resumes.", err=True)
        sys.exit(1)


def _main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"Error: {_literal(exc)}", err=True)
        sys.exit(2)
    except EdgetlError as exc:
        click.echo(f"Error: {_literal(exc)}", err=True)
        if exc.details:
            click.echo(_literal(exc.details), err=True)
        sys.exit(1)
    except OSError as exc:
        import errno

        hints = {errno.ENOSPC: "the disk is full: free space or choose another --out/--cache folder",
                 errno.EDQUOT: "the disk quota is exceeded: free space or choose another folder",
                 errno.EFBIG: "a file grew past the size this system allows: free space or choose another folder",
                 errno.EROFS: "the folder is on a read-only file system: choose a writable --out",
                 errno.EACCES: "permission denied: choose a folder you can write to",
                 errno.EPERM: "operation not permitted: choose a folder you can write to"}
        if exc.errno not in hints:
            raise
        click.echo(f"Error: cannot write {exc.filename or ''}: {exc.strerror}. {hints[exc.errno]}. Finished stages are "
                   "kept and nothing half-written was left; rerun the same command to resume.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted: finished stages are kept; rerun the same command to resume.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
