"""The Celery app: broker and results on the Redis that REDIS_URL names.

The broker runs on kombu's Redis transport with one repair (`BrokerChannel`), so that a worker
survives its Redis restarting instead of exiting with "Unrecoverable error: AttributeError(
"'NoneType' object has no attribute 'hostname'")".
"""

import os
from queue import Empty

from celery import Celery
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class BrokerChannel(kombu_redis.Channel):
    """kombu's Redis channel, closable after its server went away.

    When the broker connection drops, the worker's consumer (celery 5.7) first collects the
    connection, which closes this channel, then drops the transport, then closes the connection
    again. kombu's `close()` first reads the reply of the BRPOP in flight; on a dead connection that
    read raises a connection error before the channel is marked closed, so the first close stops
    there. The second close, with the transport gone, puts the unacknowledged messages back
    through a client built from `transport.client`, now None: an AttributeError, which the worker
    does not count as a connection error and so exits. Here a BRPOP reply that died with its
    connection is given up (there is nothing left to read), and the first close completes.
    """

    def close(self):
        if self._in_poll:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                pass  # the reply went with the connection; _brpop_read has left the poll
        super().close()


class BrokerTransport(kombu_redis.Transport):
    Channel = BrokerChannel


app = Celery("agora")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Any redis:// URL: the transport is named here, the URL still gives host, port, database and password.
app.conf.broker_transport = "config.celery:BrokerTransport"
app.autodiscover_tasks()
