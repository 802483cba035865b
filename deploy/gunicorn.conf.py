"""gunicorn settings of deploy/backoffice-web.service (``--config deploy/gunicorn.conf.py``).

The application is preloaded in the master and shared copy-on-write by the workers; the
database connections the master opened while building it must not be shared, so each
worker starts with an empty pool (``post_fork``).
"""

import os

workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
preload_app = True
timeout = 60
graceful_timeout = 30
max_requests = 2000  # a slow leak cannot grow a worker for ever
max_requests_jitter = 200
accesslog = "-"
# Query strings are left out of the access log: webhook secrets and tokens travel there.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
forwarded_allow_ips = "127.0.0.1"


def post_fork(server, worker):
    from backoffice.extensions import db

    app = worker.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)  # the master's connections stay the master's
