"""Exit 0 when the PostgreSQL server of the test run answers, 1 otherwise."""

import os
import sys

import psycopg

url = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
try:
    with psycopg.connect(url, connect_timeout=3):
        sys.exit(0)
except psycopg.OperationalError:
    sys.exit(1)
