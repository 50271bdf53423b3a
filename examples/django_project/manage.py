#!/usr/bin/env python
"""Django's command line for the example project (``python manage.py migrate``, ``runserver``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # the stand-in generator (examples/project_generator.py) sits one folder up
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
