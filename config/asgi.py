"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()  # before importing code that touches models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from config.websocket_auth import auth_middleware_stack  # noqa: E402

application = ProtocolTypeRouter(
    {
        # The ASGI server serves no files itself: without this, /static/ (arena.js, htmx) answers 404 and the
        # battle page never streams or votes. Served from the staticfiles finders, so no collectstatic, and
        # whatever DEBUG says (the handler serves "insecurely" by design): `make run` runs with DEBUG off.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(auth_middleware_stack(URLRouter(websocket_urlpatterns))),
    }
)
