/// The programs an egress test runs inside a network namespace of its own (`unshare -nm`, as root): a shell script that
/// sets up the namespace, listeners that log every connection they accept, a DNS server whose answers change
/// between lookups, and a raw proxy client.
///
/// Inside the namespace 10.0.0.5, 169.254.169.254, 203.0.113.10 and fd00::1 are local addresses, so a proxy that
/// dialled them would reach the listeners; nothing leaves the namespace.
enum NetworkNamespaceScripts {
    /// `sh run.sh DIR TOKENPROXY [REQUEST-LINE…]`: configures the namespace, starts DNS, listeners and the proxy
    /// (listening on 127.0.0.1:18080), sends every request line, and stops everything it started, by pid.
    static let run = #"""
        set -u
        DIR=$1; BIN=$2; shift 2
        ip link set lo up
        ip addr add 10.0.0.5/32 dev lo
        ip addr add 169.254.169.254/32 dev lo
        ip addr add 203.0.113.10/32 dev lo
        ip -6 addr add fd00::1/128 dev lo
        echo "nameserver 127.0.0.53" > "$DIR/resolv.conf"
        mount --bind "$DIR/resolv.conf" /etc/resolv.conf
        python3 "$DIR/dns.py" "$DIR/dns.log" "$DIR/dns.ready" &
        DNS=$!
        python3 "$DIR/listeners.py" "$DIR/accepts.log" "$DIR/listeners.ready" \
            10.0.0.5:443 169.254.169.254:80 "[fd00::1]:443" 127.0.0.1:443 127.0.0.1:80 203.0.113.10:443 \
            203.0.113.10:8443 &
        LISTENERS=$!
        "$BIN" serve --config "$DIR/ns.yaml" --listen 127.0.0.1:18080 >"$DIR/ns-proxy.stdout" 2>"$DIR/ns-proxy.stderr" &
        PROXY=$!
        i=0
        while [ $i -lt 300 ]; do
            if [ -f "$DIR/dns.ready" ] && [ -f "$DIR/listeners.ready" ] \
                && grep -q "listening on" "$DIR/ns-proxy.stdout" 2>/dev/null; then break; fi
            sleep 0.1; i=$((i + 1))
        done
        python3 "$DIR/client.py" 18080 "$@"
        kill -TERM $PROXY; wait $PROXY
        echo "PROXY-EXIT $?"
        kill $LISTENERS $DNS; wait $LISTENERS $DNS 2>/dev/null
        exit 0
        """#

    /// `listeners.py LOG READY HOST:PORT…`: binds every address, then logs `accept HOST:PORT` per connection.
    static let listeners = #"""
        import socket, sys, threading
        log = open(sys.argv[1], "a", buffering=1)
        sockets = []
        for spec in sys.argv[3:]:
            host, port = spec.rsplit(":", 1)
            host = host.strip("[]")
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, int(port)))
            s.listen(16)
            sockets.append((spec, s))
        def serve(spec, s):
            while True:
                connection, _ = s.accept()
                log.write("accept %s\n" % spec)
                connection.close()
        for spec, s in sockets:
            threading.Thread(target=serve, args=(spec, s), daemon=True).start()
        open(sys.argv[2], "w").write("ready\n")
        threading.Event().wait()
        """#

    /// `dns.py LOG READY`: a DNS server on 127.0.0.53:53. `rebind.test` answers 203.0.113.10 to its first A query
    /// and 127.0.0.1 to every later one (TTL 0); `private.test` is 127.0.0.1, `metadata.test` 169.254.169.254.
    /// AAAA queries get no answer. Every A query is logged as `A NAME`.
    static let dns = #"""
        import socket, struct, sys
        log = open(sys.argv[1], "a", buffering=1)
        answers = {
            "rebind.test": ["203.0.113.10", "127.0.0.1"],
            "private.test": ["127.0.0.1"],
            "metadata.test": ["169.254.169.254"],
        }
        counts = {}
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.53", 53))
        open(sys.argv[2], "w").write("ready\n")
        while True:
            data, peer = s.recvfrom(512)
            tid = struct.unpack(">H", data[:2])[0]
            i, labels = 12, []
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode())
                i += data[i] + 1
            qtype = struct.unpack(">H", data[i + 1:i + 3])[0]
            question = data[12:i + 5]
            name = ".".join(labels).lower()
            answer, count, rcode = b"", 0, 0
            if name in answers:
                if qtype == 1:
                    log.write("A %s\n" % name)
                    n = counts.get(name, 0)
                    counts[name] = n + 1
                    address = answers[name][min(n, len(answers[name]) - 1)]
                    answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(address)
                    count = 1
            else:
                rcode = 3
            s.sendto(struct.pack(">HHHHHH", tid, 0x8180 | rcode, 1, count, 0, 0) + question + answer, peer)
        """#

    /// `client.py PORT LINE…`: sends each request line (plus a Host header) on a new connection to the proxy and
    /// prints `RESULT <index> <status line>`.
    static let client = #"""
        import socket, sys
        port = int(sys.argv[1])
        for index, line in enumerate(sys.argv[2:]):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=15)
                s.sendall((line + "\r\nHost: ns.test\r\n\r\n").encode())
                status = s.recv(4096).decode(errors="replace").split("\r\n")[0]
                s.close()
            except Exception as error:
                status = "ERROR " + type(error).__name__
            print("RESULT %d %s" % (index, status), flush=True)
        """#
}
