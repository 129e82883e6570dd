#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import gc
import os
import sys

# Start-up imports all of Django (~300k objects, none of them garbage): at the default threshold
# (700 allocations) the cyclic collector runs hundreds of times over them, ~20 ms of every command.
# Long-running commands (qcluster, runserver) keep the higher threshold: cycles are still
# collected, in larger batches. The web server's processes start from wsgi.py, not from here.
GC_THRESHOLD = 50_000


def main() -> None:
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings.dev")
    from django.apps import apps
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
    if apps.ready:
        # The command is done and the process ends. Interpreter shutdown would run full garbage
        # collections over everything still alive (all of Django: ~40 ms of CPU per command);
        # frozen objects are skipped. Database connections sit in reference cycles and would only
        # be closed by those collections: close them first, as Django does after a request.
        from django.db import connections

        connections.close_all()
        gc.freeze()


if __name__ == "__main__":
    main()
