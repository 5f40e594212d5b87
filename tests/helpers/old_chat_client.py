"""A stand-in for the old service's Python client, socket behaviour only.

It does on the wire what that client did: sends the user name as one write
with no line break, reads until the text HISTORY_END has arrived, then sends
each typed line as one write with no line break, prints whatever arrives,
and on "exit" shuts the socket down. Used by tests/old_client_test.ts.
"""

import socket
import sys
import threading


def main() -> None:
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.create_connection((host, port))
    sock.sendall(name.encode("utf-8"))

    received = ""
    while "HISTORY_END" not in received:
        chunk = sock.recv(4096).decode("utf-8")
        if not chunk:
            return
        received += chunk
    history, live = received.split("HISTORY_END", 1)
    print(history, end="", flush=True)
    print("-- history end --", flush=True)
    if live.strip():
        print(live.strip(), flush=True)

    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = sock.recv(4096)
            if not data:
                break
            print(data.decode("utf-8"), end="", flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for line in sys.stdin:
        text = line.rstrip("\n")
        if text == "exit":
            stop.set()
            sock.shutdown(socket.SHUT_RDWR)
            break
        sock.sendall(text.encode("utf-8"))
    sock.close()


if __name__ == "__main__":
    main()
