"""Ports for the local servers: free, and out of the way of outgoing connections."""

from __future__ import annotations

import socket

from infra.net import ephemeral_low, free_port, port_in_use


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    port = free_port()
    assert port < ephemeral_low()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if someone holds it


def test_a_listening_port_counts_as_in_use() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        assert port_in_use("127.0.0.1", sock.getsockname()[1])
