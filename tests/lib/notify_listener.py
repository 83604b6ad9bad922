#!/usr/bin/env python3
"""notify_listener.py - a stand-in for systemd's notification socket: binds an AF_UNIX datagram
socket at PATH and appends every datagram received to LOG (one per line, newlines inside a
datagram shown as '|'). Runs until killed.

usage: notify_listener.py PATH LOG"""
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
open(log + ".ready", "w").close()
with open(log, "a", buffering=1) as f:
    while True:
        data = s.recv(4096)
        f.write(data.decode(errors="replace").replace("\n", "|") + "\n")
