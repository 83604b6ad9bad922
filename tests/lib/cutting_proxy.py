"""A loopback TCP proxy that cuts the connection in the middle of response bodies, to test
resumed S3 downloads. The first N responses larger than --cut-after bytes are cut after that
many bytes; everything else passes through untouched.
usage: cutting_proxy.py --listen-port-file F --target-port P --cut-after BYTES [--cuts N]"""
import argparse
import socket
import threading

p = argparse.ArgumentParser()
p.add_argument("--listen-port-file", required=True)
p.add_argument("--target-port", type=int, required=True)
p.add_argument("--cut-after", type=int, required=True)
p.add_argument("--cuts", type=int, default=1)
a = p.parse_args()
state = {"cuts": a.cuts}
lock = threading.Lock()


def pipe_up(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client):
    upstream = socket.create_connection(("127.0.0.1", a.target_port))
    threading.Thread(target=pipe_up, args=(client, upstream), daemon=True).start()
    sent = 0
    with lock:
        cut = state["cuts"] > 0
    try:
        while True:
            b = upstream.recv(65536)
            if not b:
                break
            if cut and sent + len(b) > a.cut_after:
                with lock:
                    if state["cuts"] > 0:
                        state["cuts"] -= 1
                        client.sendall(b[: max(0, a.cut_after - sent)])
                        # shutdown() first: close() alone would wait for the other thread's
                        # recv() on this socket and leave the connection open
                        client.shutdown(socket.SHUT_RDWR)
                        client.close()
                        upstream.close()
                        return
                cut = False
            client.sendall(b)
            sent += len(b)
    except OSError:
        pass
    finally:
        client.close()
        upstream.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(a.listen_port_file, "w") as f:
    f.write(str(srv.getsockname()[1]))
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
