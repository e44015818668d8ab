"""A tiny service for the relay's tests: /health answers ok, /exit ends the process (exit 1), anything else
echoes what it received as JSON (path, whether the Authorization header held the service's own token, the
cookies and forwarding headers), so the test can check what reached the service and what did not."""
import http.server, json, os, sys

PORT = int(os.environ["KAIROS_SERVICE_PORT"])
TOKEN = os.environ["KAIROS_SERVICE_TOKEN"]
BASE = os.environ["KAIROS_SERVICE_BASE_URL"]


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, "ok", "text/plain")
        if self.path == BASE + "exit":
            self.answer(200, "bye", "text/plain")
            self.wfile.flush()
            os._exit(1)
        self.answer(200, json.dumps({
            "path": self.path,
            "authorized": self.headers.get("authorization") == "token " + TOKEN,
            "cookie": self.headers.get("cookie"),
            "prefix": self.headers.get("x-forwarded-prefix"),
            "attempt": os.environ.get("KAIROS_ATTEMPT"),
        }))

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        self.answer(200, json.dumps({"echo": self.rfile.read(n).decode()}))

    def log_message(self, *args):
        pass


print("serving on", PORT, "token", TOKEN, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
