#!/usr/bin/env python
"""Django's command-line utility. With no environment it uses the embedded settings that `make run` uses."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "t2i_site.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
