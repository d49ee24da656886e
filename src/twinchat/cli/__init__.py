"""The `twinchat` command: a thin skin over the Python API, one command per stage.

Each stage's commands live in a module of their own (`prepare`, `train`, `evaluate`, `suggest`,
`export`, `apps`) and the options they share in `options`. Heavy libraries are imported inside
commands so that `twinchat --help` stays instant.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from twinchat.cli import apps, evaluate, export, prepare, suggest, train
from twinchat.cli.console import err

app = typer.Typer(
    name="twinchat",
    help="Turn exported chat history into a model that replies like the people in it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for stage in (prepare, train, evaluate, suggest, export, apps):  # the order `--help` lists them
    app.add_typer(stage.app)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """`main` takes `--debug` out of the arguments wherever it is; here it is for `--help`."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that temporaries are removed on the way out."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main() -> None:
    """Entry point: errors become one line naming the fix; `--debug` shows the traceback."""
    import signal

    from twinchat.errors import TwinchatError

    args = sys.argv[1:]
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end] or os.environ.get("TWINCHAT_DEBUG") == "1"
    if debug:  # accepted anywhere, as the README writes it: `twinchat prepare … --debug`
        args = [a for a in args[:end] if a != "--debug"] + args[end:]
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(args=args, standalone_mode=False)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        _interrupted()
    except typer.TyperException as error:  # usage errors of the command line
        if type(error).__name__ == "NoArgsIsHelpError":
            error.show()
            sys.exit(0)
        context = getattr(error, "ctx", None)
        command = context.command_path if context else "twinchat"
        err.print(
            f"error: {error.format_message()} (see '{command} --help')",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    except TwinchatError as error:
        if debug:
            raise
        err.print(f"error: {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    except Terminated:
        err.print("terminated")
        sys.exit(128 + signal.SIGTERM)
    # outside standalone mode typer returns the code of an Exit, and turns Ctrl-C into Exit(130)
    if code == 130:
        _interrupted()
    if isinstance(code, int) and code:
        sys.exit(code)


def _interrupted() -> None:
    err.print("interrupted")
    sys.exit(130)
