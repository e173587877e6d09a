"""An upstream that sends three SSE events, half of a fourth, then drops the
connection (no chunked terminator): what a provider whose connection breaks
mid-answer looks like. For bench/pipe_cut.sh.

    python3 bench/reference/cut_upstream.py PORT
"""

import socket
import sys
import threading
import time

EVENT = b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'


def serve(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return
        data += more
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    for piece in (EVENT, EVENT, EVENT, b'data: {"half'):
        conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        time.sleep(0.02)
    time.sleep(0.05)
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def main() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
