#!/usr/bin/env python3
"""An HTTPS reverse proxy that demands HTTP basic auth, in front of the test schema registry.

Apicurio Registry needs an OIDC server for basic auth; this proxy lets the schema-registry test
check that the client sends credentials and verifies TLS against a CA, while every answer still
comes from the real registry behind it.

usage: registry_tls_proxy.py CERT KEY USER:PASSWORD UPSTREAM_URL
Prints the port it listens on (127.0.0.1) as its first line, then serves until killed.
"""
import base64
import http.server
import ssl
import sys
import urllib.error
import urllib.request

cert, key, user_info, upstream = sys.argv[1:5]
expected = "Basic " + base64.b64encode(user_info.encode()).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _forward(self):
        if self.headers.get("Authorization") != expected:
            body = b'{"error_code":401,"message":"Unauthorized"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        req = urllib.request.Request(upstream + self.path, data=data, method=self.command)
        if self.headers.get("Content-Type"):
            req.add_header("Content-Type", self.headers["Content-Type"])
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _forward
    do_POST = _forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
