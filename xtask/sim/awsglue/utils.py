"""`getResolvedOptions` as Glue defines it: `--NAME value` pairs from the job's (here: the session's) arguments."""

from __future__ import annotations


class GlueArgumentError(Exception):
    """A required option is missing, as Glue raises it."""


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str]:  # noqa: N802 (Glue's name)
    # In a simulated session the arguments are the session's (`--SESSION_ID` and its DefaultArguments), not the
    # simulator process's sys.argv.
    from gluesim.sessions import OUTPUT

    argv = OUTPUT.session_args if OUTPUT.session_args is not None else list(args)
    found: dict[str, str] = {}
    for i, arg in enumerate(argv):
        if arg.startswith("--") and i + 1 < len(argv):
            found[arg[2:]] = argv[i + 1]
    missing = [o for o in options if o not in found]
    if missing:
        raise GlueArgumentError(f"the following arguments are required: {', '.join('--' + m for m in missing)}")
    return {o: found[o] for o in options}
