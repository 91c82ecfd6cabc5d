"""One module per `swiftlike` sub-command; each has NAME, HELP, add_arguments(parser) and run(args, ctx)."""
from swiftlike.client.commands import (auth, copy, delete, download, info, listing, post, stat,
                                       upload)

COMMANDS = [stat, listing, upload, download, delete, post, copy, auth, info]
