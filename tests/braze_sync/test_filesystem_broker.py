"""The embedded filesystem broker never shows a consumer a message before it is whole."""

from __future__ import annotations

import os

from kombu import Connection

from braze_sync import broker


def test_a_message_appears_under_its_consumed_name_only_once_written(tmp_path, monkeypatch):
    seen: list[tuple[list[str], bytes]] = []
    replace = os.replace

    def checked_replace(source, target):
        # At the rename, no file in the folder has a name a consumer would take yet, and the
        # file being renamed already holds the whole message.
        consumable = [n for n in os.listdir(tmp_path) if n.partition(".")[2] == "tasks.msg"]
        with open(source, "rb") as f:
            seen.append((consumable, f.read()))
        replace(source, target)

    monkeypatch.setattr(broker.os, "replace", checked_replace)
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection("filesystem://", transport_options=options) as connection:
        channel = connection.default_channel
        assert isinstance(channel, broker.FilesystemChannel)
        channel._put("tasks", {"body": "x" * 10_000})

        assert len(seen) == 1 and seen[0][0] == []
        assert b"x" * 10_000 in seen[0][1]
        assert channel._get("tasks") == {"body": "x" * 10_000}
    assert os.listdir(tmp_path) == []
