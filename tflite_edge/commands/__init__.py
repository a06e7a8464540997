"""The subcommands of `tflite-edge`, one module each: `register(subparsers)` adds its flags,
`run(args)` (or the functions it sets as `func`) does it. cli.py lists them in --help order."""
