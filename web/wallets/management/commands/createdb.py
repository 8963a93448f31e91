"""``manage.py createdb``: create the configured PostgreSQL database if it does not exist."""

from __future__ import annotations

from typing import Any

import psycopg2
from django.core.management.base import BaseCommand
from psycopg2 import sql

from shared.config import get_settings


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL if it is missing."

    def handle(self, *args: Any, **options: Any) -> None:
        db = get_settings().database
        conn = psycopg2.connect(
            dbname="postgres", user=db.user, password=db.password, host=db.host, port=db.port, connect_timeout=5
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db.name])
                if cursor.fetchone():
                    self.stdout.write(f"database {db.name} exists")
                    return
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
                self.stdout.write(f"database {db.name} created")
        finally:
            conn.close()
