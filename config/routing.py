"""Websocket routes of every app."""

from django.urls import path

from arena.consumers import BattleConsumer
from ratings.consumers import LeaderboardConsumer
from workers.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/arena/<str:public_id>/", BattleConsumer.as_asgi()),
    path("ws/leaderboard/", LeaderboardConsumer.as_asgi()),
]
