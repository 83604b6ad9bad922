#!/usr/bin/env python3
"""gen-hex.py SIZE_BYTES OUT: writes random SHA-256 hex lines (64 digits + newline) to OUT."""
import os
import sys


def main():
    size, out = int(sys.argv[1]), sys.argv[2]
    rows = size // 65
    batch = 16384
    with open(out + ".tmp", "wb") as f:
        done = 0
        while done < rows:
            n = min(batch, rows - done)
            h = os.urandom(32 * n).hex().encode()
            f.write(b"".join(h[i * 64:(i + 1) * 64] + b"\n" for i in range(n)))
            done += n
    os.rename(out + ".tmp", out)


if __name__ == "__main__":
    main()
