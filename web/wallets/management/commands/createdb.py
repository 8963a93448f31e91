"""``manage.py createdb``: create the configured PostgreSQL database if it does not exist.

``--fresh`` drops it first (closing its connections), for the test suite: a database left by
another checkout (a migration this one does not have) must not decide a run. It refuses any
database whose name does not end in ``_test``.
"""

from __future__ import annotations

from typing import Any

import psycopg2
from django.core.management.base import BaseCommand, CommandError, CommandParser
from psycopg2 import sql

from shared.config import get_settings

FRESH_SUFFIXES = ("_test", "_bench")
"""The databases ``--fresh`` may drop: the test suite's and the benchmark's, never an application's."""


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL if it is missing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fresh", action="store_true", help="drop it first (only a database named *_test or *_bench)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        db = get_settings().database
        if options["fresh"] and not db.name.endswith(FRESH_SUFFIXES):
            raise CommandError(
                f"--fresh drops the database: refused for {db.name!r} (not a *_test or *_bench database)"
            )
        params: dict[str, Any] = {"connect_timeout": "5", **db.options}  # the primary, of several hosts
        params.update(dbname="postgres", user=db.user, password=db.password, host=db.host, port=db.port)
        conn = psycopg2.connect(**params)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                if options["fresh"]:
                    cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name)))
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db.name])
                if cursor.fetchone():
                    self.stdout.write(f"database {db.name} exists")
                    return
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
                self.stdout.write(f"database {db.name} created")
        finally:
            conn.close()
